package gale.runtime;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.function.BiConsumer;
import java.util.function.Predicate;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The UNIX socket every local instance connects back to, and the TCP port instances on other
 * machines (pods) connect to where a UNIX socket cannot reach. An instance proves who it is with
 * the id and nonce Gale gave it at start (HELLO): on the UNIX socket, which only this machine
 * reaches, by sending the nonce; over TCP, without ever sending it, by an HMAC of a challenge
 * Gale sends first. Anything else is dropped, so user code of one function cannot pose as
 * another's instance, and whoever reads the network cannot learn a secret that opens another.
 *
 * <p>An instance forked by a zygote also connects its stdout and stderr here (fds 1 and 2
 * cannot be pipes of the JVM, which is not its parent): a HELLO with the same id and nonce
 * and {@code "stream": "stdout"} or {@code "stderr"}, then raw bytes until it exits.
 */
public final class InstanceListener implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(InstanceListener.class);
    /** A process that connects but says nothing is not an instance. */
    private static final Duration HELLO_TIMEOUT = Duration.ofSeconds(10);
    /**
     * Platform threads read the HELLO: a virtual thread's read would switch the socket to non-blocking
     * mode for good, and the instance's reader thread would then poll before every frame it reads.
     */
    private static final Executor GREETERS = Executors.newCachedThreadPool(Thread.ofPlatform().daemon().name("gale-hello-", 0).factory());

    /** The version of the protocol over TCP: a bootstrap of another Gale release says so and exits (docs/protocol.md). */
    public static final int TCP_PROTOCOL = 1;
    private static final String HMAC = "HmacSHA256";

    private record Expected(String nonce, CompletableFuture<Connection> connection) {
    }

    private record Output(String nonce, BiConsumer<String, InputStream> sink) {
    }

    private final Path socketPath;
    private final ServerSocketChannel server;
    private final Map<String, Expected> expected = new ConcurrentHashMap<>();
    private final Map<String, Output> outputs = new ConcurrentHashMap<>();
    private Thread acceptor;
    private volatile ServerSocketChannel tcpServer;

    private InstanceListener(Path socketPath, ServerSocketChannel server) {
        this.socketPath = socketPath;
        this.server = server;
    }

    /** Listens on {@code socketPath} (replacing a socket file a crashed run left) and starts accepting. */
    public static InstanceListener open(Path socketPath) {
        ServerSocketChannel server;
        try {
            Files.createDirectories(socketPath.getParent());
            Files.deleteIfExists(socketPath);
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(socketPath));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on the instance socket " + socketPath + ": " + e.getMessage(), e);
        }
        var listener = new InstanceListener(socketPath, server);
        listener.acceptor = Thread.ofPlatform().name("gale-instance-acceptor").daemon().start(() -> listener.acceptLoop(server, false));
        return listener;
    }

    /**
     * Listens on TCP too, for instances that run elsewhere (pods), and starts accepting there.
     *
     * @return the address bound (port 0 picks a free one)
     */
    public InetSocketAddress listenTcp(InetSocketAddress address) {
        if (tcpServer != null) throw new IllegalStateException("the instance listener already listens on TCP at " + tcpAddress());
        try {
            ServerSocketChannel tcp = ServerSocketChannel.open(StandardProtocolFamily.INET);
            tcp.bind(address);
            tcpServer = tcp;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen for instances on TCP " + address + ": " + e.getMessage(), e);
        }
        Thread.ofPlatform().name("gale-instance-acceptor-tcp").daemon().start(() -> acceptLoop(tcpServer, true));
        return tcpAddress();
    }

    private InetSocketAddress tcpAddress() {
        try {
            return (InetSocketAddress) tcpServer.getLocalAddress();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
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

    /**
     * Accepts the stdout and stderr connections of an instance until {@link #forgetOutput}.
     * The sink gets the stream's name and its bytes; closing the stream closes the connection.
     */
    public void expectOutput(String instanceId, String nonce, BiConsumer<String, InputStream> sink) {
        outputs.put(instanceId, new Output(nonce, sink));
    }

    public void forgetOutput(String instanceId) {
        outputs.remove(instanceId);
    }

    private void acceptLoop(ServerSocketChannel from, boolean tcp) {
        while (from.isOpen()) {
            try {
                SocketChannel channel = from.accept();
                GREETERS.execute(() -> {
                    if (tcp) greetOverTcp(channel);
                    else greet(channel);
                });
            } catch (IOException e) {
                if (from.isOpen()) LOG.warn("instance {} accept failed: {}", tcp ? "TCP" : "socket", e.toString());
            }
        }
    }

    /**
     * A connection on the TCP port: Gale sends a CHALLENGE, and the instance answers with a HELLO
     * whose proof is the HMAC-SHA256 of the challenge and its id, keyed with its nonce.
     */
    private void greetOverTcp(SocketChannel channel) {
        var greeted = watchdog(channel);
        try {
            channel.setOption(java.net.StandardSocketOptions.TCP_NODELAY, true);
            String challenge = InstanceIds.nonce() + InstanceIds.nonce();
            var header = Frame.newHeader().put("challenge", challenge).put("protocol", TCP_PROTOCOL);
            Frame.of(Frame.Type.CHALLENGE, header).writeTo(channel);
            Connection.FrameInput in = Connection.inputOf(channel);
            Frame hello = Frame.readFrom(in);
            greeted.complete(null);
            String id = hello.text("instance");
            admit(channel, in, hello, nonce -> constantTimeEquals(proof(nonce, challenge, id), hello.text("proof")),
                    "a TCP connection from " + remoteOf(channel) + " that did not prove it was an expected instance");
        } catch (IOException e) {
            greeted.complete(null);
            closeQuietly(channel);
        }
    }

    /** What an instance holding {@code nonce} answers to {@code challenge}: hex HMAC-SHA256 of "challenge\nid" (docs/protocol.md). */
    public static String proof(String nonce, String challenge, String instanceId) {
        try {
            Mac mac = Mac.getInstance(HMAC);
            mac.init(new SecretKeySpec(nonce.getBytes(StandardCharsets.UTF_8), HMAC));
            return HexFormat.of().formatHex(mac.doFinal((challenge + "\n" + instanceId).getBytes(StandardCharsets.UTF_8)));
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("this JVM has no " + HMAC, e);
        }
    }

    private static String remoteOf(SocketChannel channel) {
        try {
            return String.valueOf(channel.getRemoteAddress());
        } catch (IOException e) {
            return "an unknown address";
        }
    }

    /** Closes the connection unless the returned future completes (the HELLO arrived) within {@link #HELLO_TIMEOUT}. */
    private static CompletableFuture<Void> watchdog(SocketChannel channel) {
        var timer = CompletableFuture.delayedExecutor(HELLO_TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        var greeted = new CompletableFuture<Void>();
        CompletableFuture.runAsync(() -> {
            if (!greeted.isDone()) closeQuietly(channel);
        }, timer);
        return greeted;
    }

    private void greet(SocketChannel channel) {
        var greeted = watchdog(channel);
        try {
            Connection.FrameInput in = Connection.inputOf(channel);
            Frame hello = Frame.readFrom(in);
            greeted.complete(null);
            String id = hello.text("instance");
            if (hello.type() == Frame.Type.HELLO && hello.header().has("stream")) {
                acceptOutput(channel, in, id, hello);
                return;
            }
            admit(channel, in, hello, nonce -> constantTimeEquals(nonce, hello.text("nonce")),
                    "a connection on the instance socket that did not identify as an expected instance");
        } catch (IOException e) {
            greeted.complete(null);
            closeQuietly(channel);
        }
    }

    /**
     * Hands the connection to the expected instance its HELLO names, if {@code proves} its nonce, and
     * else drops it, logging {@code what} was dropped.
     */
    private void admit(SocketChannel channel, Connection.FrameInput in, Frame hello, Predicate<String> proves, String what) {
        Expected exp = expected.get(hello.text("instance"));
        if (hello.type() != Frame.Type.HELLO || exp == null || !proves.test(exp.nonce())) {
            LOG.warn("dropped {}", what);
            closeQuietly(channel);
            return;
        }
        if (!exp.connection().complete(new Connection(channel, in, hello))) closeQuietly(channel);
    }

    private void acceptOutput(SocketChannel channel, InputStream in, String id, Frame hello) {
        Output output = outputs.get(id);
        String stream = hello.text("stream");
        if (output == null || !constantTimeEquals(output.nonce(), hello.text("nonce"))
                || !(stream.equals("stdout") || stream.equals("stderr"))) {
            LOG.warn("dropped an output connection on the instance socket that did not identify as an expected instance");
            closeQuietly(channel);
            return;
        }
        output.sink().accept(stream, new FilterInputStream(in) {
            @Override
            public void close() throws IOException {
                super.close();
                channel.close();
            }
        });
    }

    private static boolean constantTimeEquals(String a, String b) {
        return MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
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
            if (tcpServer != null) tcpServer.close();
            Files.deleteIfExists(socketPath);
        } catch (IOException ignored) {
            // shutting down
        }
        acceptor.interrupt();
        expected.values().forEach(e -> e.connection().completeExceptionally(new IOException("Gale is shutting down")));
    }
}
