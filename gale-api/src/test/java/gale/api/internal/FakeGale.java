package gale.api.internal;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Gale's side of the socket for instance tests: accepts one instance, queues what it sends, sends what the test says. */
final class FakeGale implements AutoCloseable {

    private final ServerSocketChannel server;
    private final CompletableFuture<FrameChannel> connection = new CompletableFuture<>();
    private final BlockingQueue<Frame> received = new LinkedBlockingQueue<>();
    final Path socket;

    FakeGale(Path dir) throws IOException {
        socket = dir.resolve("gale.sock");
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        Thread.ofVirtual().start(() -> {
            try {
                FrameChannel channel = new FrameChannel(server.accept());
                connection.complete(channel);
                for (Frame f = channel.read(); f != null; f = channel.read()) received.add(f);
            } catch (IOException e) {
                connection.completeExceptionally(e);
            }
        });
    }

    /** The next frame the instance sent; fails after 10 s. */
    Frame next() throws InterruptedException {
        Frame f = received.poll(10, TimeUnit.SECONDS);
        if (f == null) throw new AssertionError("the instance sent nothing within 10 s");
        return f;
    }

    /** The next frame that is not a LOG. */
    Frame nextAnswer() throws InterruptedException {
        Frame f = next();
        while (f.type() == Frame.LOG) f = next();
        return f;
    }

    void send(Frame frame) throws Exception {
        connection.get(10, TimeUnit.SECONDS).write(frame);
    }

    void invoke(String id, String method, String path, String query, List<List<String>> headers, String body) throws Exception {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("id", id);
        h.put("method", method);
        h.put("path", path);
        h.put("query", query);
        h.put("headers", headers);
        h.put("remoteAddr", "127.0.0.1");
        h.put("scheme", "http");
        h.put("host", "127.0.0.1:8080");
        h.put("deadlineMs", System.currentTimeMillis() + 60_000);
        send(new Frame(Frame.INVOKE, h, body.getBytes(StandardCharsets.UTF_8)));
    }

    void invoke(String id, String query) throws Exception {
        invoke(id, "GET", "/", query, List.of(), "");
    }

    void shutdown() throws Exception {
        send(new Frame(Frame.SHUTDOWN, new LinkedHashMap<>()));
    }

    /** Closes Gale's end of the connection, as a crashed or stopped Gale would. */
    void disconnect() throws Exception {
        connection.get(10, TimeUnit.SECONDS).close();
    }

    @Override
    public void close() throws IOException {
        server.close();
        if (connection.isDone() && !connection.isCompletedExceptionally()) connection.join().close();
    }
}
