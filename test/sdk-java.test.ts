import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RunningAgentProcess } from "./support/process.js";
import { emptyProject, expectConformant, readmeAgent, sh, startAgent, writeFiles } from "./support/sdk-project.js";

/**
 * pom is an agent project's whole build file: Java 17 and the SDK, the
 * way its README tells a team to depend on it.
 */
function pom(sdkVersion: string): string {
  const plugin = (artifact: string, version: string) =>
    `<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>${artifact}</artifactId><version>${version}</version></plugin>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example</groupId>
  <artifactId>greeter</artifactId>
  <version>1.0.0</version>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency>
      <groupId>dev.switchboard</groupId>
      <artifactId>switchboard-agent</artifactId>
      <version>${sdkVersion}</version>
    </dependency>
  </dependencies>
  <build>
    <pluginManagement>
      <plugins>
        ${plugin("maven-compiler-plugin", "3.13.0")}
        ${plugin("maven-resources-plugin", "3.3.1")}
        ${plugin("maven-jar-plugin", "3.4.2")}
        ${plugin("maven-surefire-plugin", "3.5.4")}
        ${plugin("maven-dependency-plugin", "3.8.1")}
      </plugins>
    </pluginManagement>
  </build>
</project>
`;
}

/**
 * The Java SDK as a team uses it: a Maven project outside the repository
 * that depends on the SDK's jar (installed into the local Maven
 * repository), builds the README's agent, and runs the conformance kit
 * against it.
 */
describe("the Java SDK jar", () => {
  const project = emptyProject("java");
  let agent: RunningAgentProcess;

  beforeAll(async () => {
    mkdirSync(join(project.dir, "src/main/java"), { recursive: true });
    writeFiles(project.dir, {
      "pom.xml": pom(inject("sdks").javaVersion),
      "src/main/java/Greeter.java": readmeAgent("packages/java/README.md", "java"),
    });
    await sh(project.dir, "mvn", [
      "-B",
      "-q",
      "package",
      "dependency:build-classpath",
      "-Dmdep.includeScope=runtime",
      "-Dmdep.outputFile=classpath.txt",
    ]);
    const classpath = `${join(project.dir, "target/classes")}:${readFileSync(join(project.dir, "classpath.txt"), "utf8").trim()}`;
    agent = await startAgent("java", ["-cp", classpath, "Greeter"], "Java jar agent");
  });

  afterAll(async () => {
    await agent?.stop();
    project.remove();
  });

  it("builds against the SDK's jar, which carries the generated contracts", () => {
    const classpath = readFileSync(join(project.dir, "classpath.txt"), "utf8");
    expect(classpath).toContain(`switchboard-agent-${inject("sdks").javaVersion}.jar`);
  });

  it("serves the README's twenty-line agent, which passes every conformance check", async () => {
    await expectConformant(agent.url);
  });

  it("returns from Agent.run on SIGTERM, so the agent exits with status 0", async () => {
    expect(await agent.stop()).toBe(0);
  });
});
