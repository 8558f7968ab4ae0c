import { randomUUID } from "node:crypto";
import { clearScreenDown, createInterface, cursorTo, type Interface, type Key, moveCursor } from "node:readline";
import { parseArgs } from "node:util";
import { Code, ConnectError } from "@connectrpc/connect";
import { AsyncQueue } from "../core/async-queue.js";
import { validateOptionalId } from "../core/ids.js";
import { OrchestratorService } from "../gen/switchboard/v1/orchestrator_pb.js";
import { ChatConversation, type ChatPrompt, type ConverseRequestInit, helpLines } from "./chat-conversation.js";
import { ChatView } from "./chat-view.js";
import { connectionOptions, connectionUsage, orchestratorClient } from "./client.js";
import { type Command, type Io, UsageError } from "./command.js";

const usage = `switchboard chat [--session ID [--resume]] [--flow ID] [--account ID]

A conversation with the orchestrator in the terminal, over the Converse
stream: each line you type is a turn, and the agent's reply prints as it
streams in. Stage transitions (·) and errors (!) print on lines of their
own; a failed turn does not end the conversation.

Keys:
  Enter            send the line
  Enter or any key while the agent replies
                   barge in: the reply stops, is recorded as heard up to
                   what was printed and marked [interrupted]; what you
                   type becomes your next line
  /quit, Ctrl-D    leave once the running turn is done (exit code 0)
  Ctrl-C           interrupt the reply, if any, and leave; a second
                   Ctrl-C leaves without waiting for the server
  /help            show the keys

When standard input or output is not a terminal, each input line is a
turn, sent when the previous one is done; the command ends after the last
line, with exit code 1 if a turn failed.

Options:
  --session ID     the session to talk in (default: a new one)
  --resume         first show the session's conversation so far (its events
                   replayed), and a reply still streaming in it
  --flow ID        the flow of a new session (default: the server's)
  --account ID     the account of a new session
  --help           show this help

${connectionUsage}
`;

/**
 * chat is `switchboard chat`: an interactive conversation over Converse,
 * with the agent's reply streaming onto the screen and barge-in by key.
 */
export const chat: Command = {
  name: ["chat"],
  summary: "talk to the orchestrator in the terminal, with barge-in",
  usage,
  run: runChat,
};

type TtyIn = NodeJS.ReadableStream & { isTTY?: boolean };
type TtyOut = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

const parse = (argv: string[]) => {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        ...connectionOptions,
        session: { type: "string" },
        resume: { type: "boolean" },
        flow: { type: "string" },
        account: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
};

const checkedId = (flag: string, value: string | undefined) => {
  try {
    return validateOptionalId(flag, value ?? "");
  } catch (e) {
    throw new UsageError(ConnectError.from(e).rawMessage);
  }
};

async function runChat(argv: string[], io: Io): Promise<number> {
  const values = parse(argv);
  const given = checkedId("--session", values.session);
  const flowId = checkedId("--flow", values.flow);
  const accountId = checkedId("--account", values.account);
  if (values.resume === true && given === "") throw new UsageError("--resume needs --session: the session to resume");
  const client = orchestratorClient(OrchestratorService, values, io.env);
  const sessionId = given || randomUUID();

  const input: TtyIn = io.in ?? process.stdin;
  const out = io.out as TtyOut;
  const interactive = input.isTTY === true && out.isTTY === true;
  const color = out.isTTY === true && io.env["NO_COLOR"] === undefined && io.env["TERM"] !== "dumb";
  const view = new ChatView(out, color);
  // The request side of the stream: the transport reads it as fast as it
  // sends, so it holds only what a person typed and has not gone out yet.
  const requests = new AsyncQueue<ConverseRequestInit>();
  const call = new AbortController();
  let reader: Interface | undefined;
  const prompt: ChatPrompt = {
    show: () => reader?.prompt(true),
    hide: () => {
      if (reader === undefined) return;
      moveCursor(out, 0, -reader.getCursorPos().rows);
      cursorTo(out, 0);
      clearScreenDown(out);
    },
  };
  const conversation = new ChatConversation(sessionId, {
    send: (req) => requests.push(req),
    close: () => requests.end(),
    view,
    ...(interactive ? { prompt, greeting: helpLines } : {}),
    pauseInput: () => reader?.pause(),
    resumeInput: () => reader?.resume(),
    newTurnId: () => randomUUID(),
  });

  // Ctrl-C (a signal from a pipe's terminal, or the key in the line
  // editor): interrupt and leave; a second one drops the call.
  let interrupts = 0;
  const onInterrupt = () => {
    if (++interrupts === 1) conversation.leave();
    else call.abort(new ConnectError("left without waiting for the server", Code.Canceled));
  };
  process.on("SIGINT", onInterrupt);

  const startReading = () => {
    const rl = createInterface({ input, ...(interactive ? { output: out, terminal: true, prompt: "you> " } : { terminal: false }) });
    if (interactive) {
      // Before the line editor handles the key: a key while the agent
      // replies barges in, and the key then starts (or ends) the next line.
      input.prependListener("keypress", onKey);
      rl.on("SIGINT", onInterrupt);
    }
    rl.on("line", (line) => conversation.submit(line));
    rl.on("close", () => {
      // The end of input (Ctrl-D, the end of a pipe), not the close when the call is over.
      if (reader !== undefined) conversation.finish();
    });
    return rl;
  };
  const onKey = (_text: string | undefined, key: Key | undefined) => {
    if (!conversation.streaming) return;
    const leaving = key?.ctrl === true && (key.name === "c" || key.name === "d");
    conversation.bargeIn(key?.name === "return" || key?.name === "enter" ? "enter" : leaving ? "leave" : "other");
  };

  // Lines entered before the stream is open wait for it.
  reader = startReading();
  requests.push({ kind: { case: "open", value: { sessionId, flowId, accountId, ...(values.resume === true ? { resumeAfterSeq: 0n } : {}) } } });
  try {
    for await (const res of client.converse(requests, { signal: call.signal })) {
      if (res.event === undefined) continue;
      conversation.event(res.event);
    }
  } catch (e) {
    view.endLine();
    if (call.signal.aborted) {
      view.error("left without waiting for the running turn to finish");
      return 130;
    }
    throw e;
  } finally {
    process.off("SIGINT", onInterrupt);
    input.off("keypress", onKey);
    const rl = reader;
    reader = undefined;
    rl?.close();
  }
  view.endLine();
  if (!requests.closed) {
    view.error("the orchestrator ended the conversation");
    return 1;
  }
  return !interactive && conversation.failures > 0 ? 1 : 0;
}
