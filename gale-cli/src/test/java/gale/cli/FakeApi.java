package gale.cli;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;

/**
 * A Gale server stand-in on a JDK HttpServer at port 0: one canned answer per "METHOD /path", every request recorded.
 * As a field with {@code @RegisterExtension}, a test class gets a new one per test, closed after it.
 */
final class FakeApi implements AutoCloseable, org.junit.jupiter.api.extension.AfterEachCallback {

    record Request(String method, String uri, Map<String, List<String>> headers, String body) {
        String header(String name) {
            return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name))
                    .map(e -> e.getValue().getFirst()).findFirst().orElse("");
        }
    }

    private record Answer(int status, String body, Map<String, String> headers) {
    }

    /** Writes the whole exchange itself, e.g. a stream that stays open; each request runs on its own thread. */
    interface Handler {
        void answer(Request request, HttpExchange exchange) throws IOException;
    }

    private final HttpServer server;
    private final Map<String, Answer> answers = new ConcurrentHashMap<>();
    private final Map<String, Handler> handlers = new ConcurrentHashMap<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();

    FakeApi() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor()); // a held-open stream must not block other calls
        server.start();
    }

    /** A started fake, for a {@code @RegisterExtension} field. */
    static FakeApi started() {
        try {
            return new FakeApi();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot start the fake API", e);
        }
    }

    @Override
    public void afterEach(org.junit.jupiter.api.extension.ExtensionContext context) {
        close();
    }

    /** Lets {@code handler} answer {@code "GET /v1/jobs/job-1/results"} (the path without its query). */
    FakeApi handle(String methodAndPath, Handler handler) {
        handlers.put(methodAndPath, handler);
        return this;
    }

    /** Answers {@code "GET /fn/scorer"} (the path without its query) with this status, body and header pairs. */
    FakeApi on(String methodAndPath, int status, String body, String... headerNamesAndValues) {
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 0; i < headerNamesAndValues.length; i += 2) headers.put(headerNamesAndValues[i], headerNamesAndValues[i + 1]);
        answers.put(methodAndPath, new Answer(status, body, headers));
        return this;
    }

    /** GALE_URL and GALE_TOKEN pointing at this fake. */
    Map<String, String> env() {
        return Map.of("GALE_URL", "http://127.0.0.1:" + server.getAddress().getPort(), "GALE_TOKEN", "t0ken");
    }

    String url() {
        return env().get("GALE_URL");
    }

    List<Request> requests() {
        return List.copyOf(requests);
    }

    @Override
    public void close() {
        server.stop(0);
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String body = new String(exchange.getRequestBody().readAllBytes(), UTF_8);
            Request request = new Request(exchange.getRequestMethod(), exchange.getRequestURI().toString(),
                    Map.copyOf(exchange.getRequestHeaders()), body);
            requests.add(request);
            Handler handler = handlers.get(exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath());
            if (handler != null) {
                handler.answer(request, exchange);
                return;
            }
            Answer answer = answers.getOrDefault(exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath(),
                    new Answer(404, "{\"error\": \"no route in the fake\"}", Map.of("X-Gale-Error", "platform")));
            answer.headers().forEach(exchange.getResponseHeaders()::add);
            byte[] bytes = answer.body().getBytes(UTF_8);
            exchange.sendResponseHeaders(answer.status(), bytes.length == 0 ? -1 : bytes.length);
            exchange.getResponseBody().write(bytes);
        }
    }
}
