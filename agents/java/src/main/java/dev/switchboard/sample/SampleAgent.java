package dev.switchboard.sample;

import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.switchboard.agent.AgentServer;
import dev.switchboard.agent.Handler;
import dev.switchboard.agent.Registrar;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import switchboard.v1.Agent.AgentCard;
import switchboard.v1.Agent.TurnStart;
import switchboard.v1.Turn.Action;
import switchboard.v1.Turn.AgentResult;
import switchboard.v1.Turn.NextAction;
import switchboard.v1.Turn.TranscriptEntry;

/**
 * SampleAgent is the sample Switchboard agent in Java, the same in every
 * language: it repeats what it hears, streaming word by word; it records in
 * the session state what it received (so a conversation shows the state and
 * transcript crossing languages); it hands the conversation to another agent
 * named with "@name", and ends it on "bye".
 *
 * <pre>
 * java -cp ... dev.switchboard.sample.SampleAgent --port 7004 [--name java] [--orchestrator http://127.0.0.1:50051]
 *     [--advertise URL] [--lease SECONDS] [--registry-token TOKEN]
 * </pre>
 */
public final class SampleAgent {
  private static final Pattern MENTION = Pattern.compile("@([A-Za-z0-9][A-Za-z0-9._-]*)");
  private static final Pattern BYE = Pattern.compile("\\bbye\\b", Pattern.CASE_INSENSITIVE);
  // The TurnStart metadata key the conformance kit sets; "slow" asks for a
  // long, slowly streamed answer it can cancel or time out.
  private static final String CONFORMANCE_KEY = "switchboard.conformance";

  private SampleAgent() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> flags = new java.util.HashMap<>(Map.of("host", "127.0.0.1", "port", "0", "name", "java", "lease", "30"));
    String env = System.getenv("SWITCHBOARD_ORCHESTRATOR");
    if (env != null) flags.put("orchestrator", env);
    for (int i = 0; i + 1 < args.length; i += 2) flags.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    String name = flags.get("name");

    AgentCard card = AgentCard.newBuilder()
        .setName(name)
        .setVersion("1.0.0")
        .setDescription("The sample Java agent: repeats what it hears, hands over on @name, ends on bye.")
        .addIntents("chat")
        .putMetadata("language", "java")
        .putMetadata("runtime", "java" + System.getProperty("java.version"))
        .build();
    AgentServer server = AgentServer.start(card, handler(name), flags.get("host"), Integer.parseInt(flags.get("port")));
    System.out.println("{\"msg\":\"agent listening\",\"agent\":\"" + name + "\",\"url\":\"" + server.url() + "\",\"port\":"
        + server.port() + "}");
    System.out.flush();
    String orchestrator = flags.get("orchestrator");
    String token = flags.getOrDefault("registry-token", System.getenv("SWITCHBOARD_REGISTRY_TOKEN"));
    Registrar registrar = orchestrator == null || orchestrator.isEmpty()
        ? null
        : Registrar.start(orchestrator, flags.getOrDefault("advertise", server.url()), card,
            Duration.ofMillis((long) (Double.parseDouble(flags.get("lease")) * 1000)), token);
    // On SIGTERM or SIGINT: deregister, let running turns finish, and exit
    // with status 0, as the other samples do (a shutdown hook alone would
    // leave the JVM's 143).
    for (String signal : new String[] {"TERM", "INT"}) {
      sun.misc.Signal.handle(new sun.misc.Signal(signal), s -> {
        if (registrar != null) registrar.close();
        try {
          server.stop(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        System.exit(0);
      });
    }
    server.awaitTermination();
  }

  static Handler handler(String name) {
    return (turn, out) -> {
      TurnStart start = turn.start();
      if ("slow".equals(start.getMetadataMap().get(CONFORMANCE_KEY))) {
        // A tick every 50ms for up to 30s; interrupted when the turn ends.
        for (int i = 1; i <= 600; i++) {
          Thread.sleep(50);
          out.delta("tick " + i + ". ");
        }
        return AgentResult.newBuilder().setNext(NextAction.newBuilder().setAction(Action.ACTION_ADVANCE)).build();
      }
      String said = turn.text().strip();
      String from = start.getHandoffFrom();
      String reply = from.isEmpty() ? name + " heard: " + said : name + " here, taking over from " + from + ". You said: " + said;
      String[] words = reply.split(" ");
      for (int i = 0; i < words.length; i++) out.delta(i == 0 ? words[i] : " " + words[i]);

      Map<String, Value> state = start.getState().getFieldsMap();
      double turns = 1;
      Value mine = state.get(name);
      if (mine != null && mine.hasStructValue()) {
        Value n = mine.getStructValue().getFieldsMap().get("turns");
        if (n != null && n.hasNumberValue()) turns = n.getNumberValue() + 1;
      }
      ListValue.Builder servedBy = ListValue.newBuilder();
      Value before = state.get("served_by");
      if (before != null && before.hasListValue()) servedBy.addAllValues(before.getListValue().getValuesList());
      servedBy.addValues(text(name));
      List<String> keys = new ArrayList<>(state.keySet());
      keys.sort(null);
      ListValue.Builder stateKeys = ListValue.newBuilder();
      for (String k : keys) stateKeys.addValues(text(k));
      Struct report = Struct.newBuilder()
          .putFields("turns", Value.newBuilder().setNumberValue(turns).build())
          .putFields("language", text("java"))
          .putFields("history", Value.newBuilder().setNumberValue(start.getHistoryCount()).build())
          .putFields("last_message", text(lastMessage(start.getHistoryList())))
          .putFields("handoff_from", text(from))
          .putFields("state_keys", Value.newBuilder().setListValue(stateKeys).build())
          .build();
      Struct patch = Struct.newBuilder()
          .putFields(name, Value.newBuilder().setStructValue(report).build())
          .putFields("served_by", Value.newBuilder().setListValue(servedBy).build())
          .build();

      NextAction.Builder next = NextAction.newBuilder().setAction(Action.ACTION_ADVANCE);
      Matcher mention = MENTION.matcher(said);
      if (mention.find() && !mention.group(1).equals(name) && from.isEmpty()) {
        next.setAction(Action.ACTION_HANDOFF).setTargetAgent(mention.group(1));
      } else if (BYE.matcher(said).find()) {
        next.setAction(Action.ACTION_END);
      }
      return AgentResult.newBuilder().setStatePatch(patch).setNext(next).build();
    };
  }

  private static Value text(String s) {
    return Value.newBuilder().setStringValue(s).build();
  }

  /** lastMessage describes the newest transcript entry, e.g. "python: ...". */
  private static String lastMessage(List<TranscriptEntry> history) {
    if (history.isEmpty()) return "";
    TranscriptEntry last = history.get(history.size() - 1);
    String who = last.getAgent();
    if (who.isEmpty()) who = last.getRole().name().replaceFirst("^ROLE_", "").toLowerCase(Locale.ROOT);
    return who + ": " + last.getText();
  }
}
