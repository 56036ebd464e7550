package gale.runtime;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The UNIX socket every instance connects back to. An instance proves who it is with
 * the id and nonce Gale gave it at start (HELLO); anything else is dropped, so user
 * code of one function cannot pose as another's instance.
 */
public final class InstanceListener implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(InstanceListener.class);
    /** A process that connects but says nothing is not an instance. */
    private static final Duration HELLO_TIMEOUT = Duration.ofSeconds(10);

    private record Expected(String nonce, CompletableFuture<Connection> connection) {
    }

    private final Path socketPath;
    private final ServerSocketChannel server;
    private final Map<String, Expected> expected = new ConcurrentHashMap<>();
    private final Thread acceptor;

    public InstanceListener(Path socketPath) {
        this.socketPath = socketPath;
        try {
            Files.createDirectories(socketPath.getParent());
            Files.deleteIfExists(socketPath);
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(socketPath));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on the instance socket " + socketPath, e);
        }
        acceptor = Thread.ofPlatform().name("gale-instance-acceptor").daemon().start(this::acceptLoop);
    }

    public Path socketPath() {
        return socketPath;
    }

    /** Registers an instance about to start; the future completes when it has said HELLO. */
    public CompletableFuture<Connection> expect(String instanceId, String nonce) {
        var future = new CompletableFuture<Connection>();
        expected.put(instanceId, new Expected(nonce, future));
        future.whenComplete((c, e) -> expected.remove(instanceId));
        return future;
    }

    private void acceptLoop() {
        while (server.isOpen()) {
            try {
                SocketChannel channel = server.accept();
                Thread.ofVirtual().name("gale-hello").start(() -> greet(channel));
            } catch (IOException e) {
                if (server.isOpen()) LOG.warn("instance socket accept failed: {}", e.toString());
            }
        }
    }

    private void greet(SocketChannel channel) {
        var watchdog = CompletableFuture.delayedExecutor(HELLO_TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        var greeted = new CompletableFuture<Void>();
        CompletableFuture.runAsync(() -> {
            if (!greeted.isDone()) closeQuietly(channel);
        }, watchdog);
        try {
            DataInputStream in = Connection.inputOf(channel);
            Frame hello = Frame.readFrom(in);
            greeted.complete(null);
            String id = hello.text("instance");
            Expected exp = expected.get(id);
            if (hello.type() != Frame.Type.HELLO || exp == null || !constantTimeEquals(exp.nonce(), hello.text("nonce"))) {
                LOG.warn("dropped a connection on the instance socket that did not identify as an expected instance");
                closeQuietly(channel);
                return;
            }
            if (!exp.connection().complete(new Connection(channel, in, hello))) closeQuietly(channel);
        } catch (IOException e) {
            greeted.complete(null);
            closeQuietly(channel);
        }
    }

    private static boolean constantTimeEquals(String a, String b) {
        return MessageDigest.isEqual(a.getBytes(), b.getBytes());
    }

    private static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing to do for a connection we are dropping
        }
    }

    @Override
    public void close() {
        try {
            server.close();
            Files.deleteIfExists(socketPath);
        } catch (IOException ignored) {
            // shutting down
        }
        acceptor.interrupt();
        expected.values().forEach(e -> e.connection().completeExceptionally(new IOException("Gale is shutting down")));
    }
}
