package gale.gateway;

import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Sends a call on to a peer node and brings its answer back, without a thread waiting on either: the JDK's client
 * writes and reads on its own selector and completes on a virtual thread.
 */
final class PeerCalls implements AutoCloseable {

    /** Headers the client sets itself, or that describe one hop only. */
    private static final Set<String> NOT_FORWARDED = Set.of("connection", "keep-alive", "transfer-encoding",
            "content-length", "upgrade", "proxy-connection", "te", "trailer", "host", "expect", "http2-settings");

    /** The peer's answer, as it gave it. */
    record Answer(int status, List<Map.Entry<String, String>> headers, byte[] body) {
    }

    /** How a call to a peer failed: unreachable (nothing was sent, serve it here) or during the call. */
    static final class PeerFailed extends RuntimeException {
        final boolean unreachable;

        PeerFailed(String message, boolean unreachable, Throwable cause) {
            super(message, cause);
            this.unreachable = unreachable;
        }
    }

    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final HttpClient http = HttpClient.newBuilder().executor(executor).connectTimeout(Duration.ofSeconds(2))
            .followRedirects(HttpClient.Redirect.NEVER).version(HttpClient.Version.HTTP_1_1).build();

    /**
     * @param pathAndQuery the path as the client sent it (still encoded), with its query
     * @param headers      what the function would see, to which the node headers are added
     */
    CompletableFuture<Answer> send(Peers.Peer peer, String method, String pathAndQuery, List<Map.Entry<String, String>> headers,
                                   byte[] body, Instant deadline, String credential, String forwardedBy) {
        URI target = peer.url().resolve(pathAndQuery);
        var request = HttpRequest.newBuilder(target).method(method, HttpRequest.BodyPublishers.ofByteArray(body))
                .timeout(Duration.between(Instant.now(), deadline).plusSeconds(5)); // the peer answers 504 itself first
        for (Map.Entry<String, String> h : headers) {
            String name = h.getKey().toLowerCase(Locale.ROOT);
            if (NOT_FORWARDED.contains(name) || name.equals(Peers.CREDENTIAL_HEADER.toLowerCase(Locale.ROOT))
                    || name.equals(Peers.FORWARDED_HEADER.toLowerCase(Locale.ROOT))) continue;
            try {
                request.header(h.getKey(), h.getValue());
            } catch (IllegalArgumentException restricted) {
                // a header the JDK client sets itself (e.g. Date): the peer sees the client's own
            }
        }
        request.header(Peers.CREDENTIAL_HEADER, credential).header(Peers.FORWARDED_HEADER, forwardedBy);
        return http.sendAsync(request.build(), HttpResponse.BodyHandlers.ofByteArray()).handle((response, error) -> {
            if (error != null) {
                Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
                boolean unreachable = cause instanceof ConnectException;
                throw new PeerFailed("node " + peer.id() + " at " + peer.url() + " " + (unreachable ? "could not be reached"
                        : "failed during the call") + " (" + cause + ")", unreachable, cause);
            }
            List<Map.Entry<String, String>> answered = new ArrayList<>();
            response.headers().map().forEach((name, values) -> {
                if (NOT_FORWARDED.contains(name.toLowerCase(Locale.ROOT)) || name.startsWith(":")) return;
                values.forEach(v -> answered.add(Map.entry(name, v)));
            });
            return new Answer(response.statusCode(), answered, response.body());
        });
    }

    @Override
    public void close() {
        http.shutdownNow();
        executor.shutdownNow();
    }
}
