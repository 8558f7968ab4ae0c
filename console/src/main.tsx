import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { createApi, savedToken, saveToken } from "./api.js";
import { hrefOf, onLinkClick, type Route, routeOf } from "./route.js";
import { AgentsView } from "./views/agents-view.js";
import { FlowsView } from "./views/flows-view.js";
import { SessionView } from "./views/session-view.js";
import { SessionsView } from "./views/sessions-view.js";
import "./styles.css";

/**
 * App is the console: a header with the views and the token, and the
 * current view. The views are addressable (`/console/sessions/ID`), so a
 * link to a session can be shared.
 */
function App() {
  const [route, setRoute] = useState<Route>(routeOf(location.pathname));
  const [token, setToken] = useState(savedToken());
  useEffect(() => {
    const on = () => setRoute(routeOf(location.pathname));
    addEventListener("popstate", on);
    return () => removeEventListener("popstate", on);
  }, []);
  const api = useMemo(() => createApi(token), [token]);
  const nav = (r: Route, label: string) => {
    const current = r.view === route.view || (r.view === "sessions" && route.view === "session");
    return (
      <li>
        <a href={hrefOf(r)} onClick={onLinkClick} aria-current={current ? "page" : undefined}>
          {label}
        </a>
      </li>
    );
  };
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <h1>Switchboard console</h1>
        <nav aria-label="Views">
          <ul>
            {nav({ view: "sessions" }, "Sessions")}
            {nav({ view: "flows" }, "Flows")}
            {nav({ view: "agents" }, "Agents")}
          </ul>
        </nav>
        <TokenForm token={token} onChange={(t) => (saveToken(t), setToken(t))} />
      </header>
      <main id="main">
        {route.view === "sessions" && <SessionsView api={api} />}
        {route.view === "session" && <SessionView api={api} id={route.id} />}
        {route.view === "flows" && <FlowsView api={api} id={route.id} />}
        {route.view === "agents" && <AgentsView api={api} />}
      </main>
    </>
  );
}

/**
 * TokenForm takes the bearer token the console sends. It is kept in this
 * tab's sessionStorage only.
 */
function TokenForm({ token, onChange }: { token: string; onChange: (token: string) => void }) {
  const [draft, setDraft] = useState(token);
  return (
    <form
      class="token"
      aria-label="Access token"
      onSubmit={(e) => {
        e.preventDefault();
        onChange(draft.trim());
      }}
    >
      <label>
        Bearer token
        <input type="password" name="token" autocomplete="off" value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
      </label>
      <button type="submit">Use token</button>
      {token !== "" && (
        <button type="button" onClick={() => (setDraft(""), onChange(""))}>
          Forget token
        </button>
      )}
      <span role="status" class="hint">
        {token === "" ? "No token: works on servers without tokens." : "Token set for this tab."}
      </span>
    </form>
  );
}

render(<App />, document.getElementById("app") as HTMLElement);
