package gale.client;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;

/**
 * A stand-in for a Gale server on a JDK HttpServer at port 0. Each "METHOD /path" gets canned answers,
 * given in order, the last one repeating; every request is recorded.
 */
final class FakeGale implements AutoCloseable {

    record Request(String method, String pathAndQuery, Map<String, List<String>> headers, byte[] body) {
        String header(String name) {
            return headers.entrySet().stream()
                    .filter(e -> e.getKey().equalsIgnoreCase(name))
                    .map(e -> e.getValue().getFirst())
                    .findFirst()
                    .orElse("");
        }

        String bodyText() {
            return new String(body, UTF_8);
        }
    }

    record Answer(int status, String body, Map<String, String> headers) {
    }

    /** Writes the whole exchange itself, e.g. a stream that stays open; each request runs on its own thread. */
    interface Handler {
        void answer(Request request, HttpExchange exchange) throws IOException;
    }

    private final HttpServer server;
    private final Map<String, Deque<Answer>> answers = new ConcurrentHashMap<>();
    private final Map<String, Handler> handlers = new ConcurrentHashMap<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();

    FakeGale() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor()); // a held-open stream must not block other calls
        server.start();
    }

    /** Lets {@code handler} answer {@code "GET /v1/jobs/job-1/results"} (the path without its query). */
    FakeGale handle(String methodAndPath, Handler handler) {
        handlers.put(methodAndPath, handler);
        return this;
    }

    /** Answers {@code "GET /v1/functions"} (the path without its query) with these, in turn. */
    FakeGale on(String methodAndPath, Answer... inTurn) {
        answers.put(methodAndPath, new ArrayDeque<>(List.of(inTurn)));
        return this;
    }

    FakeGale on(String methodAndPath, int status, String json) {
        return on(methodAndPath, json(status, json));
    }

    static Answer json(int status, String body) {
        return new Answer(status, body, Map.of("Content-Type", "application/json"));
    }

    URI url() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    List<Request> requests() {
        return List.copyOf(requests);
    }

    Request lastRequest() {
        return requests.getLast();
    }

    @Override
    public void close() {
        server.stop(0);
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            URI uri = exchange.getRequestURI();
            byte[] body = exchange.getRequestBody().readAllBytes();
            Request request = new Request(exchange.getRequestMethod(), uri.getRawPath()
                    + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery()),
                    Map.copyOf(exchange.getRequestHeaders()), body);
            requests.add(request);
            Handler handler = handlers.get(exchange.getRequestMethod() + " " + uri.getRawPath());
            if (handler != null) {
                handler.answer(request, exchange);
                return;
            }
            Answer answer = next(exchange.getRequestMethod() + " " + uri.getRawPath());
            answer.headers().forEach(exchange.getResponseHeaders()::add);
            byte[] bytes = answer.body().getBytes(UTF_8);
            exchange.sendResponseHeaders(answer.status(), bytes.length == 0 ? -1 : bytes.length);
            exchange.getResponseBody().write(bytes);
        }
    }

    private Answer next(String route) {
        Deque<Answer> queue = answers.get(route);
        if (queue == null) return json(404, "{\"error\": \"no route " + route + " in the fake\", \"status\": 404}");
        synchronized (queue) {
            return queue.size() > 1 ? queue.removeFirst() : queue.getFirst();
        }
    }
}
