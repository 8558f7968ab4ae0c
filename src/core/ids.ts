import { invalidArgument } from "./errors.js";

const idPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * validateId checks a client-supplied id (session, turn, account). Ids are
 * 1 to 128 characters of letters, digits and `._:-`, so they can never act
 * as a database operator, a path or a log injection.
 */
export function validateId(field: string, value: string): string {
  if (!idPattern.test(value)) {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    throw invalidArgument(
      field,
      value.length === 0
        ? "must not be empty"
        : `${JSON.stringify(shown)} is not a valid id: use 1 to 128 characters of A-Z a-z 0-9 . _ : -`,
    );
  }
  return value;
}

/**
 * validateOptionalId is validateId for a field that may be left empty.
 */
export function validateOptionalId(field: string, value: string): string {
  return value === "" ? value : validateId(field, value);
}
