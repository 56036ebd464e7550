package gale.cli;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import gale.client.GaleClient;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

@Command(name = "call", description = "Call a function and print its response body.")
final class CallCommand extends ClientCommand {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Parameters(index = "0", paramLabel = "NAME", description = "function name")
    String name;

    @Option(names = {"-d", "--data"}, paramLabel = "JSON|@FILE",
            description = "request body, or @FILE to send a file; sent as application/json unless --header says otherwise")
    Optional<String> data = Optional.empty();

    @Option(names = {"-q", "--query"}, paramLabel = "K=V", description = "query parameter, repeatable")
    List<String> query = new ArrayList<>();

    @Option(names = {"-X", "--method"}, paramLabel = "METHOD", description = "HTTP method (default: POST with --data, else GET)")
    Optional<String> method = Optional.empty();

    @Option(names = "--path", paramLabel = "/SUB", defaultValue = "", description = "sub-path after /fn/NAME")
    String path;

    @Option(names = {"-H", "--header"}, paramLabel = "K:V", description = "request header, repeatable")
    List<String> headers = new ArrayList<>();

    @Option(names = {"-i", "--include"}, description = "print the status line and the response headers first")
    boolean include;

    @Option(names = "--async", description = "send Prefer: respond-async: Gale stores the call, answers at once with its "
            + "invocation id and runs it in the background, retrying it (see `gale dead-letters NAME`)")
    boolean async;

    @Option(names = "--wait", description = "with --async: wait until the call succeeded or became a dead letter, then print "
            + "its response body (as without --async)")
    boolean await;

    /** How often --async --wait asks for the call's state. */
    private static final java.time.Duration POLL = java.time.Duration.ofMillis(200);

    @Override
    int run(GaleClient client, Terminal terminal) throws IOException, InterruptedException {
        if (await && !async) throw new ParameterException(spec.commandLine(), "--wait goes with --async");
        byte[] body = body();
        Map<String, String> headers = requestHeaders(body.length > 0);
        if (async) headers.put("Prefer", "respond-async");
        HttpResponse<byte[]> response = client.call(name, method.orElse(body.length > 0 ? "POST" : "GET").toUpperCase(Locale.ROOT),
                pathAndQuery(), body, headers);
        if (async && response.statusCode() == 202) return accepted(client, response, terminal);
        boolean ok = isOk(response.statusCode());
        if (include) printHead(response, terminal.out());
        // A Gale error (X-Gale-Error) is explained on stderr; any other body is the function's own and goes to stdout.
        boolean galeError = response.headers().firstValue("X-Gale-Error").isPresent();
        if (ok || include || !galeError) printBody(response.body(), terminal);
        if (!ok) terminal.err().println("ERROR: " + failure(response, galeError));
        return ok ? ExitCode.OK : ExitCode.FAILED;
    }

    /** The 202 of an async call: its id on stdout; with --wait, how it ended. */
    private int accepted(GaleClient client, HttpResponse<byte[]> response, Terminal terminal) throws IOException, InterruptedException {
        String id = JSON.readTree(response.body()).path("invocationId").asText();
        if (!await) {
            terminal.out().println(id);
            if (terminal.interactive()) {
                terminal.err().println("Queued. Its status and result: GET /v1/invocations/" + id + " (or gale call --async --wait).");
            }
            return ExitCode.OK;
        }
        JsonNode call = client.asyncInvocation(id);
        while (call.path("status").asText().equals("QUEUED") || call.path("status").asText().equals("RUNNING")) {
            Thread.sleep(POLL);
            call = client.asyncInvocation(id);
        }
        if (call.path("status").asText().equals("SUCCEEDED")) {
            JsonNode result = call.path("result");
            String text = result.path("body").asText("");
            byte[] bytes = result.path("bodyEncoding").asText().equals("base64") ? Base64.getDecoder().decode(text) : text.getBytes(UTF_8);
            printBody(bytes, terminal);
            return ExitCode.OK;
        }
        terminal.err().println("ERROR: async call " + id + " of " + name + " is a dead letter after " + call.path("attempts").asInt()
                + " attempts: " + call.path("error").asText("") + "; see gale dead-letters " + name + " --traceback");
        return ExitCode.FAILED;
    }

    /** 2xx and 3xx are the function's answer; redirects are shown, not followed. */
    static boolean isOk(int status) {
        return status >= 200 && status < 400;
    }

    String pathAndQuery() {
        String sub = path.isEmpty() || path.startsWith("/") ? path : "/" + path;
        if (query.isEmpty()) return sub;
        return sub + "?" + query.stream().map(CallCommand::queryParameter).collect(Collectors.joining("&"));
    }

    private static String queryParameter(String pair) {
        int equals = pair.indexOf('=');
        if (equals < 0) return URLEncoder.encode(pair, UTF_8);
        return URLEncoder.encode(pair.substring(0, equals), UTF_8) + "=" + URLEncoder.encode(pair.substring(equals + 1), UTF_8);
    }

    private Map<String, String> requestHeaders(boolean hasBody) {
        Map<String, String> result = new LinkedHashMap<>();
        for (String header : headers) {
            int colon = header.indexOf(':');
            if (colon <= 0) throw new ParameterException(spec.commandLine(), "--header '" + header + "' is not K:V");
            result.put(header.substring(0, colon).strip(), header.substring(colon + 1).strip());
        }
        if (hasBody && result.keySet().stream().noneMatch("Content-Type"::equalsIgnoreCase)) {
            result.put("Content-Type", "application/json");
        }
        return result;
    }

    private byte[] body() throws IOException {
        if (data.isEmpty()) return new byte[0];
        String value = data.get();
        if (!value.startsWith("@")) return value.getBytes(UTF_8);
        try {
            return Files.readAllBytes(Path.of(value.substring(1)));
        } catch (NoSuchFileException e) {
            throw new ParameterException(spec.commandLine(), "--data " + value + ": no such file");
        }
    }

    private static void printHead(HttpResponse<byte[]> response, PrintStream out) {
        out.println("HTTP/1.1 " + response.statusCode());
        response.headers().map().forEach((key, values) -> values.forEach(value -> out.println(key + ": " + value)));
        out.println();
    }

    private static void printBody(byte[] body, Terminal terminal) {
        terminal.out().write(body, 0, body.length);
        if (terminal.interactive() && body.length > 0 && body[body.length - 1] != '\n') terminal.out().println();
        terminal.out().flush();
    }

    private String failure(HttpResponse<byte[]> response, boolean galeError) {
        String status = "HTTP " + response.statusCode();
        if (!galeError) return name + " answered " + status;
        String kind = response.headers().firstValue("X-Gale-Error").orElseThrow();
        String requestId = response.headers().firstValue("X-Gale-Request-Id").map(id -> " (request " + id + ")").orElse("");
        return name + " failed with " + status + " (" + kind + " error): " + galeMessage(response.body()) + requestId;
    }

    private static String galeMessage(byte[] body) {
        try {
            String error = JSON.readTree(body).path("error").asText("");
            if (!error.isBlank()) return error;
        } catch (IOException notJson) {
            // fall through to the raw body
        }
        return new String(body, UTF_8).strip();
    }
}
