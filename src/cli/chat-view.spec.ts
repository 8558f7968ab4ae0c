import { describe, expect, it } from "vitest";
import { ChatView, printable } from "./chat-view.js";

const view = (color = false) => {
  const out = { text: "", write: (s: string) => ((out.text += s), true) };
  return { out, view: new ChatView(out as unknown as NodeJS.WritableStream, color) };
};

describe("ChatView", () => {
  it("keeps an agent's reply on one line and starts a new line for anything else", () => {
    const { out, view: v } = view();
    v.reply("a", "Hello ");
    v.reply("a", "there.");
    v.reply("b", "Me too.");
    v.note("stage x → y");
    v.reply("b", "Again");
    v.mark("[interrupted]");
    v.error("turn failed: unavailable: down");
    expect(out.text).toBe("a> Hello there.\nb> Me too.\n· stage x → y\nb> Again [interrupted]\n! turn failed: unavailable: down\n");
  });

  it("does not double the space before a marker, nor the newline after a reply that ends in one", () => {
    const { out, view: v } = view();
    v.reply("a", "Once upon ");
    v.mark("[interrupted]");
    v.endLine();
    v.reply("a", "two lines\n");
    v.endLine();
    v.mark("[interrupted]");
    expect(out.text).toBe("a> Once upon [interrupted]\na> two lines\n[interrupted]");
  });

  it("writes nothing after the line editor moved to a new line itself", () => {
    const { out, view: v } = view();
    v.reply("a", "text");
    v.cursorMoved(true);
    v.note("n");
    expect(out.text).toBe("a> text· n\n");
  });

  it("styles only with color", () => {
    const plain = view(false);
    plain.view.note("n");
    expect(plain.out.text).toBe("· n\n");
    const colored = view(true);
    colored.view.note("n");
    colored.view.error("e");
    colored.view.reply("a", "x");
    expect(colored.out.text).toBe("\x1b[2m· n\x1b[22m\n\x1b[31m! e\x1b[39m\n\x1b[1ma>\x1b[22m x");
  });
});

describe("printable", () => {
  it("drops control characters an agent could steer the terminal with, keeping newlines and tabs", () => {
    expect(printable("a\x1b[2Jb\rc\u009b31md\x07e\tf\ng")).toBe("a[2Jbc31mde\tf\ng");
    expect(printable("héllo 👋")).toBe("héllo 👋");
  });
});
