package gale.api.internal;

import gale.api.HttpFunction;
import gale.api.Request;
import gale.api.Response;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One function instance, the Java side of docs/protocol.md: connect, say HELLO, load the
 * entry-point class, say READY (or LOAD_FAILED), then answer every INVOKE with exactly one
 * RESPONSE or ERROR until SHUTDOWN or the end of the connection.
 */
final class FunctionInstance {

    /** Gale waits 5 s for an instance asked to stop; the calls in flight get most of it. */
    private static final long SHUTDOWN_GRACE_MS = 4_000;

    private final Settings settings;
    private final FunctionLoader loader;
    private final Optional<HttpFunction> standIn;
    private FrameChannel channel;
    private LogCapture logs;
    private HttpFunction function;

    /**
     * @param standIn served instead of the loaded function (training: user code is loaded and
     *                constructed, but never called at prepare time)
     */
    FunctionInstance(Settings settings, FunctionLoader loader, Optional<HttpFunction> standIn) {
        this.settings = settings;
        this.loader = loader;
        this.standIn = standIn;
    }

    /** Runs the instance to its end; returns the process exit code (0 after SHUTDOWN or EOF, 1 when loading failed). */
    int run() throws IOException {
        var socket = SocketChannel.open(StandardProtocolFamily.UNIX);
        socket.connect(UnixDomainSocketAddress.of(settings.socket()));
        channel = new FrameChannel(socket);
        channel.write(new Frame(Frame.HELLO, hello()));
        logs = new LogCapture(channel);
        logs.install();
        long started = System.nanoTime();
        try {
            HttpFunction loaded = loader.load(settings.entryPoint());
            function = standIn.orElse(loaded);
        } catch (LoadFailure.Exception e) {
            logs.flushAll();
            channel.write(new Frame(Frame.LOAD_FAILED, e.failure.header()));
            return 1;
        }
        if (settings.warmUp()) {
            LinkageWarmUp.run();
            rehearse();
        }
        Map<String, Object> ready = new LinkedHashMap<>();
        ready.put("signature", "java");
        ready.put("loadMs", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
        channel.write(new Frame(Frame.READY, ready));
        try {
            serve();
        } finally {
            logs.flushAll();
            socket.close();
        }
        return 0;
    }

    private Map<String, Object> hello() {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("instance", settings.instanceId());
        h.put("nonce", settings.nonce());
        h.put("pid", pid());
        h.put("java", Runtime.version().toString());
        h.put("api", Bootstrap.apiVersion());
        return h;
    }

    /** /proc/self names our pid without starting ProcessHandle's machinery (a reaper thread pool) at start-up. */
    private static long pid() {
        try {
            return Long.parseLong(java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self")).toString());
        } catch (IOException | RuntimeException notLinux) {
            return ProcessHandle.current().pid();
        }
    }

    /**
     * Reads frames until SHUTDOWN or the end of the connection. One call at a time (GALE_CONCURRENCY=1,
     * the default) runs on this reader thread, as the Python bootstrap does: no hand-off to another
     * thread and back per call. More run on a pool of that many threads.
     */
    private void serve() {
        Optional<ExecutorService> pool = settings.concurrency() == 1 ? Optional.empty()
                : Optional.of(Executors.newFixedThreadPool(settings.concurrency(), new InvocationThreads()));
        try {
            while (true) {
                Frame frame;
                try {
                    frame = channel.read();
                } catch (IOException | IllegalArgumentException broken) { // IllegalArgumentException: a header that is not JSON
                    System.err.println("gale: instance protocol error, exiting: " + broken.getMessage());
                    frame = null;
                }
                if (frame == null) return; // Gale is gone: nobody is left to answer
                switch (frame.type()) {
                    case Frame.INVOKE -> {
                        if (pool.isPresent()) pool.get().execute(new Invocation(frame));
                        else handle(frame);
                    }
                    case Frame.SHUTDOWN -> {
                        pool.ifPresent(FunctionInstance::finishCalls);
                        return;
                    }
                    default -> System.err.println("gale: ignored an unexpected frame of type '" + (char) frame.type() + "'");
                }
            }
        } finally {
            pool.ifPresent(ExecutorService::shutdownNow);
        }
    }

    private final class Invocation implements Runnable {
        private final Frame invoke;

        Invocation(Frame invoke) {
            this.invoke = invoke;
        }

        @Override
        public void run() {
            handle(invoke);
        }
    }

    /** Answers one INVOKE with exactly one RESPONSE or ERROR. */
    private void handle(Frame invoke) {
        String id = invoke.text("id");
        LogCapture.begin(id);
        Frame answer;
        try {
            Response res = new Response();
            function.handle(toRequest(invoke), res);
            Map<String, Object> h = new LinkedHashMap<>();
            h.put("id", id);
            h.put("status", res.status());
            h.put("headers", res.headers());
            answer = new Frame(Frame.RESPONSE, h, res.body());
        } catch (Throwable t) { // anything the handler throws fails the call, not the instance
            Map<String, Object> h = new LinkedHashMap<>();
            h.put("id", id);
            h.put("error", Errors.describe(t));
            h.put("traceback", Errors.stackTrace(t));
            answer = new Frame(Frame.ERROR, h);
        } finally {
            logs.end();
        }
        try {
            channel.write(answer);
        } catch (IOException gone) {
            // Gale closed the connection; the reader sees EOF and the instance exits
        }
    }

    /**
     * Runs the request path of a call a few times without I/O and without user code: an INVOKE
     * header parsed, a Request made and read, a Response made and its header written, as
     * {@link #handle} does. Their classes are in the archive but start uninitialised and cold.
     */
    static int rehearse() {
        int size = 0;
        for (int i = 0; i < 20; i++) {
            String header = "{\"id\":\"warm-" + i + "\",\"method\":\"GET\",\"path\":\"/\",\"query\":\"name=w&n=" + i + "\","
                    + "\"headers\":[[\"Host\",\"gale\"],[\"Content-Type\",\"text/plain\"]],\"remoteAddr\":\"127.0.0.1\","
                    + "\"scheme\":\"http\",\"host\":\"gale\",\"deadlineMs\":" + (System.currentTimeMillis() + 60_000) + ",\"timeoutMs\":60000}";
            Frame invoke = new Frame(Frame.INVOKE, Json.parseObject(header), new byte[] {'w'});
            Request req = toRequest(invoke);
            Response res = new Response();
            res.status(200).contentType(req.contentType().orElse("text/plain")).send(req.query("name").orElse("") + req.bodyAsString());
            Map<String, Object> h = new LinkedHashMap<>();
            h.put("id", req.requestId());
            h.put("status", res.status());
            h.put("headers", res.headers());
            size += Json.write(h).length() + res.body().length + req.headers().size();
        }
        return size;
    }

    static Request toRequest(Frame invoke) {
        var b = Request.builder()
                .requestId(invoke.text("id"))
                .method(orDefault(invoke.text("method"), "GET"))
                .path(orDefault(invoke.text("path"), "/"))
                .query(invoke.text("query"))
                .remoteAddr(invoke.text("remoteAddr"))
                .scheme(orDefault(invoke.text("scheme"), "http"))
                .host(invoke.text("host"))
                .body(invoke.body());
        if (invoke.header().get("headers") instanceof List<?> pairs) {
            for (Object pair : pairs) {
                if (pair instanceof List<?> p && p.size() == 2 && p.get(0) instanceof String name && p.get(1) instanceof String value) {
                    b.header(name, value);
                }
            }
        }
        long deadline = invoke.number("deadlineMs", 0);
        if (deadline > 0) b.deadline(Instant.ofEpochMilli(deadline));
        return b.build();
    }

    private static String orDefault(String value, String fallback) {
        return value.isEmpty() ? fallback : value;
    }

    /** Daemon threads named gale-invoke-N. (A class, not a lambda: lambdas cost start-up time.) */
    private static final class InvocationThreads implements java.util.concurrent.ThreadFactory {
        private final AtomicInteger count = new AtomicInteger();

        @Override
        public Thread newThread(Runnable task) {
            Thread t = new Thread(task, "gale-invoke-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        }
    }

    /** Lets the calls in flight answer, for most of the time Gale waits for the instance to exit. */
    private static void finishCalls(ExecutorService pool) {
        pool.shutdown();
        try {
            pool.awaitTermination(SHUTDOWN_GRACE_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
