/**
 * Route is a console page, read from the URL under /console/.
 */
export type Route =
  | { view: "sessions" }
  | { view: "session"; id: string }
  | { view: "flows"; id?: string }
  | { view: "agents" };

/** base is where the orchestrator serves the console. */
export const base = "/console/";

/**
 * routeOf reads the route from a path; unknown paths show the sessions.
 */
export function routeOf(path: string): Route {
  const rest = path.startsWith(base) ? path.slice(base.length) : "";
  const [head, arg] = rest.split("/").map((p) => decodeURIComponent(p));
  if (head === "sessions" && arg) return { view: "session", id: arg };
  if (head === "flows") return arg ? { view: "flows", id: arg } : { view: "flows" };
  if (head === "agents") return { view: "agents" };
  return { view: "sessions" };
}

/**
 * hrefOf is the URL of a route.
 */
export function hrefOf(route: Route): string {
  switch (route.view) {
    case "sessions":
      return base;
    case "session":
      return `${base}sessions/${encodeURIComponent(route.id)}`;
    case "flows":
      return route.id === undefined ? `${base}flows` : `${base}flows/${encodeURIComponent(route.id)}`;
    case "agents":
      return `${base}agents`;
  }
}

/**
 * navigate moves to a route without a page load; the app listens for it.
 */
export function navigate(href: string): void {
  history.pushState(null, "", href);
  dispatchEvent(new PopStateEvent("popstate"));
}

/**
 * onLinkClick makes a plain link navigate inside the app (a modified click
 * still opens a new tab).
 */
export function onLinkClick(e: MouseEvent): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const href = (e.currentTarget as HTMLAnchorElement).getAttribute("href");
  if (href === null) return;
  e.preventDefault();
  navigate(href);
}
