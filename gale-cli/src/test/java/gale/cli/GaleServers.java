package gale.cli;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.awaitility.Awaitility.await;

/**
 * Real `gale` servers for the *IT tests: the shaded jar run as processes of their own, the way a
 * user runs it, each on a port of its own, its output in VERB-PORT.log. {@link #killAll} kills
 * every one and what it started.
 */
final class GaleServers {

    static final Path JAR = Path.of(System.getProperty("gale.jar", "target/gale.jar"));

    private final Path logs;
    private final List<Process> started = java.util.Collections.synchronizedList(new ArrayList<>()); // servers may start in parallel

    GaleServers(Path logs) {
        this.logs = logs;
    }

    /**
     * Runs {@code gale VERB --port PORT --data-dir DATA FLAGS...} on a JVM with {@code jvmOptions} and
     * {@code env} added to this one's environment, and waits until /healthz answers.
     */
    Process start(Map<String, String> env, List<String> jvmOptions, String verb, int port, Path data, String... flags)
            throws Exception {
        List<String> command = new ArrayList<>(List.of(javaBin(), "--enable-native-access=ALL-UNNAMED"));
        command.addAll(jvmOptions);
        command.addAll(List.of("-jar", JAR.toString(), verb, "--port", Integer.toString(port), "--data-dir", data.toString()));
        command.addAll(List.of(flags));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log(verb, port).toFile()));
        builder.environment().putAll(env);
        Process server = builder.start();
        started.add(server);
        await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> get("http://127.0.0.1:" + port + "/healthz").contains("ok"));
        return server;
    }

    /** Where a server's output goes. */
    Path log(String verb, int port) {
        return logs.resolve(verb + "-" + port + ".log");
    }

    void killAll() {
        synchronized (started) {
            started.forEach(p -> p.descendants().forEach(ProcessHandle::destroyForcibly));
            started.forEach(Process::destroyForcibly);
        }
    }

    /** Prints the last {@code lines} lines of every server's log, so a failure's report has the nodes' own account. */
    void printLogs(int lines) throws IOException {
        try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(logs)) {
            for (Path log : files.filter(p -> p.toString().endsWith(".log")).sorted().toList()) {
                List<String> all = java.nio.file.Files.readAllLines(log);
                System.out.println("==== " + log.getFileName() + " (last " + lines + " lines)");
                all.subList(Math.max(0, all.size() - lines), all.size()).forEach(System.out::println);
            }
        }
    }

    static String get(String url) throws IOException, InterruptedException {
        try (HttpClient http = HttpClient.newHttpClient()) {
            return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
        }
    }

    /** POSTs a JSON body; answers the status and the body, as "200 {...}". */
    static String postJson(String url, String json) throws IOException, InterruptedException {
        try (HttpClient http = HttpClient.newHttpClient()) {
            HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                    HttpResponse.BodyHandlers.ofString());
            return answer.statusCode() + " " + answer.body();
        }
    }

    static String javaBin() {
        return ProcessHandle.current().info().command().orElse("java");
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
