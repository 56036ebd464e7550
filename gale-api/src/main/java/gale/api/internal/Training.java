package gale.api.internal;

import gale.api.HttpFunction;

import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The training run behind a version's class-data archive: a real instance (socket, HELLO,
 * loading the entry-point class, READY, INVOKE, LOG, RESPONSE, SHUTDOWN) against a stand-in
 * for Gale in this process. The user's class is loaded and constructed, as every instance
 * does, but its {@code handle} is never called: a deploy must not run requests nobody sent.
 */
final class Training {

    private static final int CALLS = 3;

    /** Serves in place of the user's function; touches what a typical handler touches. */
    private static final HttpFunction STAND_IN = (req, res) -> {
        System.out.println("training " + req.method() + " " + req.path() + " " + req.query("q").orElse("") + " "
                + req.header("content-type").orElse("") + " " + req.bodyAsString().length() + " " + req.queryParams().size());
        res.status(200).header("X-Training", "1").contentType("application/json").send("{\"ok\":true}");
    };

    private Training() {
    }

    /** Returns 0 when the function loaded and the calls were answered; else prints why to stderr and returns 1. */
    static int run(Settings settings) throws IOException {
        PrintStream out = System.out;
        PrintStream err = System.err;
        Path dir = Files.createTempDirectory("gale-training-");
        Path socket = dir.resolve("gale.sock");
        var failure = new AtomicReference<String>();
        try (var server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            Thread gale = Thread.ofPlatform().name("gale-training").daemon().start(() -> standInForGale(server, failure));
            int code = new FunctionInstance(settings.withSocket(socket.toString()), FunctionLoader.forSystemClasspath(), Optional.of(STAND_IN)).run();
            gale.join(10_000);
            if (code != 0 && failure.get() == null) failure.set("the instance exited with code " + code);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failure.set("interrupted");
        } finally {
            System.setOut(out);
            System.setErr(err);
            Files.deleteIfExists(socket);
            Files.deleteIfExists(dir);
        }
        if (failure.get() != null) {
            err.println("gale training: " + failure.get());
            return 1;
        }
        return 0;
    }

    private static void standInForGale(ServerSocketChannel server, AtomicReference<String> failure) {
        try (var channel = new FrameChannel(server.accept())) {
            int answered = 0;
            for (Frame frame = channel.read(); frame != null; frame = channel.read()) {
                switch (frame.type()) {
                    case Frame.READY -> {
                        for (int i = 0; i < CALLS; i++) channel.write(invoke(i));
                    }
                    case Frame.LOAD_FAILED -> {
                        failure.set(frame.text("error"));
                        return;
                    }
                    case Frame.RESPONSE, Frame.ERROR -> {
                        if (++answered == CALLS) channel.write(new Frame(Frame.SHUTDOWN, new LinkedHashMap<>()));
                    }
                    default -> { } // HELLO, LOG
                }
            }
        } catch (IOException | RuntimeException e) {
            failure.compareAndSet(null, "the stand-in for Gale failed: " + e);
        }
    }

    private static Frame invoke(int i) {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("id", "training-" + i);
        h.put("method", i == 0 ? "GET" : "POST");
        h.put("path", "/training/" + i);
        h.put("query", "q=%C3%A9t%C3%A9+" + i + "&tag=a&tag=b");
        h.put("headers", List.of(List.of("Content-Type", "application/json; charset=utf-8"), List.of("X-Tag", "\"quoted\"\\")));
        h.put("remoteAddr", "127.0.0.1");
        h.put("scheme", "http");
        h.put("host", "127.0.0.1:8080");
        h.put("deadlineMs", System.currentTimeMillis() + 60_000);
        h.put("timeoutMs", 60_000);
        return new Frame(Frame.INVOKE, h, ("{\"n\": " + i + ", \"text\": \"caf\\u00e9\"}").getBytes(StandardCharsets.UTF_8));
    }
}
