import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Service } from "kubernetes-models/v1/Service";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { serveOptions } from "../src/cli/serve-settings.js";
import { repoRoot } from "./support/process.js";

const dir = join(repoRoot, "deploy/kubernetes");

/** models are the kinds the manifests use, by apiVersion and kind, with the class that validates them. */
const models = {
  "apps/v1 Deployment": Deployment,
  "v1 Service": Service,
  "autoscaling/v2 HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "policy/v1 PodDisruptionBudget": PodDisruptionBudget,
} as const;

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec: Record<string, unknown> };

function manifests(): { file: string; doc: Manifest }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(dir, file), "utf8")).map((d) => {
        if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join("; ")}`);
        return { file, doc: d.toJS() as Manifest };
      }),
    );
}

/**
 * The Kubernetes manifests in deploy/kubernetes, validated offline against
 * the Kubernetes API schema (the kubernetes-models classes), and checked
 * for what a deployment of Switchboard depends on: gRPC probes on the
 * serving port, a preStop pause and a grace period longer than the drain,
 * resource requests, an autoscaler on turns in flight aimed at the
 * Deployment, and a disruption budget over the same pods. The schema does
 * not flag unknown fields, so every field relied on is read here by its
 * exact path.
 */
describe("the Kubernetes manifests", () => {
  const all = manifests();
  const one = <K extends keyof typeof models>(key: K): InstanceType<(typeof models)[K]> => {
    const found = all.filter(({ doc }) => `${doc.apiVersion} ${doc.kind}` === key);
    expect(found.map((f) => f.file), key).toHaveLength(1);
    const Model = models[key] as unknown as new (data: unknown) => InstanceType<(typeof models)[K]>;
    return new Model(found[0]?.doc);
  };

  it("validate against the Kubernetes API schema, each of a kind the tests know", () => {
    expect(all.length).toBe(4);
    for (const { file, doc } of all) {
      const Model = models[`${doc.apiVersion} ${doc.kind}` as keyof typeof models] as unknown as
        | (new (data: unknown) => { validate(): void })
        | undefined;
      expect(Model, `${file}: ${doc.apiVersion} ${doc.kind}`).toBeDefined();
      if (Model !== undefined) expect(() => new Model(doc).validate(), file).not.toThrow();
    }
  });

  it("would refuse a manifest that breaks the schema", () => {
    type Ports = { spec: { template: { spec: { containers: { ports: Record<string, unknown>[] }[] } } } };
    const broken = structuredClone(all.find(({ doc }) => doc.kind === "Deployment")?.doc) as unknown as Ports;
    const container = broken.spec.template.spec.containers[0];
    if (container !== undefined) container.ports[0] = { name: "grpc", containerPort: "fifty" };
    expect(() => new Deployment(broken as never).validate()).toThrow(/containerPort must be integer/);
  });

  it("run the server with gRPC readiness and liveness probes on its port, a preStop pause, a grace period longer than the drain, and resource requests", () => {
    const deployment = one("apps/v1 Deployment");
    const pod = deployment.spec?.template.spec;
    const container = pod?.containers[0];
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]));
    const port = Number(env["SWITCHBOARD_PORT"]);
    expect(env["SWITCHBOARD_HOST"]).toBe("0.0.0.0");
    expect(container?.ports?.find((p) => p.name === "grpc")?.containerPort).toBe(port);
    expect(container?.readinessProbe?.grpc?.port).toBe(port);
    expect(container?.livenessProbe?.grpc?.port).toBe(port);
    expect(container?.startupProbe?.grpc?.port).toBe(port);
    expect(container?.env?.find((e) => e.name === "MONGODB_URI")?.valueFrom?.secretKeyRef?.key).toBe("uri");
    // Every setting named is one `switchboard serve` reads.
    const known = new Set<string>(serveOptions.map((o) => o.env));
    expect((container?.env ?? []).map((e) => e.name).filter((n) => !known.has(n))).toEqual([]);

    const pause = container?.lifecycle?.preStop?.sleep?.seconds ?? 0;
    const drain = Number(env["SWITCHBOARD_DRAIN_TIMEOUT"]);
    expect(pause).toBeGreaterThan(0);
    expect(drain).toBeGreaterThan(0);
    expect(pod?.terminationGracePeriodSeconds).toBeGreaterThan(pause + drain);
    // Liveness gives up only after longer than a drain takes.
    const live = container?.livenessProbe;
    expect((live?.periodSeconds ?? 0) * (live?.failureThreshold ?? 0)).toBeGreaterThanOrEqual(drain);

    expect(container?.resources?.requests?.["cpu"]).toBeDefined();
    expect(container?.resources?.requests?.["memory"]).toBeDefined();
    expect(container?.resources?.limits?.["memory"]).toBeDefined();
    expect(deployment.spec?.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
    expect(deployment.spec?.selector.matchLabels).toEqual(deployment.spec?.template.metadata?.labels);
    expect(env["SWITCHBOARD_METRICS_PORT"]).toBe(deployment.spec?.template.metadata?.annotations?.["prometheus.io/port"]);
  });

  it("scale on turns in flight, keep all but one replica through disruptions, and expose the ready replicas to the proxy", () => {
    const deployment = one("apps/v1 Deployment");
    const labels = deployment.spec?.template.metadata?.labels;

    const hpa = one("autoscaling/v2 HorizontalPodAutoscaler");
    expect(hpa.spec?.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata?.name });
    const pods = hpa.spec?.metrics?.find((m) => m.type === "Pods")?.pods;
    expect(pods?.metric.name).toBe("switchboard_turns_in_flight");
    expect(pods?.target.type).toBe("AverageValue");
    expect(Number(pods?.target.averageValue)).toBeGreaterThan(0);
    expect(hpa.spec?.minReplicas).toBeGreaterThanOrEqual(2);

    const pdb = one("policy/v1 PodDisruptionBudget");
    expect(pdb.spec?.selector?.matchLabels).toEqual(labels);
    expect(pdb.spec?.maxUnavailable).toBe(1);

    const service = one("v1 Service");
    expect(service.spec?.clusterIP).toBe("None");
    expect(service.spec?.selector).toEqual(labels);
    expect(service.spec?.ports?.[0]?.targetPort).toBe("grpc");
  });
});
