import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { errorText } from "./format.js";

/**
 * ConfirmButtonProps describe an action that asks before it acts.
 */
export interface ConfirmButtonProps {
  /** The button's text, e.g. "Roll back to version 2". */
  label: string;
  /** The dialog's question. */
  question: string;
  /** What happens, said plainly, under the question. */
  children?: ComponentChildren;
  /** The confirm button's text (default: the label). */
  confirmLabel?: string;
  danger?: boolean;
  disabled?: boolean;
  /** The action; what it resolves to is shown as the outcome. */
  onConfirm: () => Promise<string>;
  /**
   * Where the outcome goes instead of next to the button: for an action
   * that makes its own button disappear (answering a waiting session
   * ends the wait), the view keeps the outcome where it stays.
   */
  onOutcome?: (outcome: Outcome) => void;
}

/**
 * Outcome is what an action ended with: the text it resolved to, or its
 * error's.
 */
export interface Outcome {
  ok: boolean;
  text: string;
}

/**
 * OutcomeText announces an outcome: role=status when it went well,
 * role=alert when it failed.
 */
export function OutcomeText({ outcome }: { outcome: Outcome }) {
  return outcome.ok ? (
    <span role="status" class="outcome">
      {outcome.text}
    </span>
  ) : (
    <span role="alert" class="outcome error">
      {outcome.text}
    </span>
  );
}

/**
 * ConfirmButton is a button that opens a modal dialog asking to confirm;
 * the action runs only on "confirm", and its outcome or error is announced
 * (role=status / role=alert) next to the button.
 */
export function ConfirmButton(props: ConfirmButtonProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  useEffect(() => {
    const d = dialog.current;
    if (d === null) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  const confirm = async () => {
    setBusy(true);
    const report = props.onOutcome ?? setOutcome;
    try {
      report({ ok: true, text: await props.onConfirm() });
    } catch (e) {
      report({ ok: false, text: errorText(e) });
    } finally {
      setBusy(false);
      setOpen(false);
    }
  };
  const titleId = `confirm-${props.label.replace(/[^A-Za-z0-9]+/g, "-")}`;
  return (
    <span class="confirm">
      <button type="button" class={props.danger ? "danger" : ""} disabled={props.disabled === true || busy} onClick={() => setOpen(true)}>
        {props.label}
      </button>
      <dialog ref={dialog} aria-labelledby={titleId} onClose={() => setOpen(false)}>
        <h3 id={titleId}>{props.question}</h3>
        {props.children}
        <div class="buttons">
          <button type="button" class={props.danger ? "danger" : "primary"} disabled={busy} onClick={confirm}>
            {props.confirmLabel ?? props.label}
          </button>
          <button type="button" disabled={busy} onClick={() => setOpen(false)}>
            Cancel
          </button>
        </div>
      </dialog>
      {outcome !== undefined && <OutcomeText outcome={outcome} />}
    </span>
  );
}
