package gale.runtime.python;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import gale.runtime.Connection;
import gale.runtime.Frame;
import gale.runtime.SocketInstance;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A zygote process as Gale drives it, a version's or the base one: its control connection to
 * the instance socket (CONTROL frames both ways, docs/protocol.md), read by a virtual thread
 * that parks between messages; the file its stdout and stderr go to, read only to say why it
 * failed; and its end. No thread of Gale's ever waits on one of its pipes.
 *
 * <p>Life: connecting → connected → gone. {@code onExit} runs once, after the process has exited
 * and the events it sent before have been handled.
 */
final class ZygoteControl {

    private static final Logger LOG = LoggerFactory.getLogger(ZygoteControl.class);
    /** How long a zygote asked to stop may take to exit before it is killed. */
    private static final Duration STOP_GRACE = Duration.ofSeconds(2);
    /** How long the exit waits for the last events the zygote sent (the reader may lag the exit a little). */
    private static final Duration LAST_EVENTS = Duration.ofSeconds(1);
    /** Lines of the zygote's output kept to explain why it exited. */
    private static final int OUTPUT_LINES_KEPT = 8;
    /** Where callbacks run that may write to a control channel (a write parks a virtual thread). */
    static final Executor VIRTUAL_TASKS = Thread::startVirtualThread;

    private final String id;
    private final String label;
    private final CompletableFuture<Connection> connecting;
    private final CompletableFuture<SocketInstance.OsProcess> process;
    private final Path output;
    private final Consumer<JsonNode> onEvent;
    private final CompletableFuture<Void> eventsRead = new CompletableFuture<>();
    private volatile Connection connection;
    private volatile boolean stopping;

    /**
     * @param connecting completes when the zygote has connected its control channel (HELLO with its id and nonce)
     * @param process    completes with the zygote's process once known; fails when it could not start
     * @param output     the file its stdout and stderr go to, deleted once it has gone
     * @param onEvent    gets each message it sends, on the reader's thread
     */
    ZygoteControl(String id, String label, CompletableFuture<Connection> connecting,
                  CompletableFuture<SocketInstance.OsProcess> process, Path output, Consumer<JsonNode> onEvent) {
        this.id = id;
        this.label = label;
        this.connecting = connecting;
        this.process = process;
        this.output = output;
        this.onEvent = onEvent;
    }

    /**
     * Starts reading its messages once it connects, and watches for its end.
     *
     * @param onExit gets how it ended ("exited with code 1") once it has, and its last output
     */
    void start(java.util.function.BiConsumer<String, String> onExit) {
        connecting.whenComplete((c, error) -> {
            if (c == null) {
                eventsRead.complete(null);
                return;
            }
            connection = c;
            if (stopping) c.close();
            Thread.ofVirtual().name("gale-" + id).start(this::readEvents);
        });
        process.whenComplete((p, error) -> {
            CompletableFuture<String> exit = p == null
                    ? CompletableFuture.completedFuture("could not start: " + messageOf(error)) : p.exit();
            exit.thenAcceptAsync(how -> {
                connecting.cancel(false); // exited without connecting
                eventsRead.completeOnTimeout(null, LAST_EVENTS.toMillis(), TimeUnit.MILLISECONDS).thenRun(() -> {
                    String last = lastOutput();
                    try {
                        Files.deleteIfExists(output);
                    } catch (IOException ignored) {
                        // the run folder is cleared at the next start
                    }
                    onExit.accept(how, last);
                });
            }, VIRTUAL_TASKS);
        });
    }

    String id() {
        return id;
    }

    /** The process id once known, else -1. */
    long pid() {
        SocketInstance.OsProcess p = process.getNow(null);
        return p == null ? -1 : p.pid();
    }

    CompletableFuture<SocketInstance.OsProcess> process() {
        return process;
    }

    boolean isStopping() {
        return stopping;
    }

    /** Sends one message; parks the caller while the socket is full, never pins it. */
    void send(ObjectNode message) throws IOException {
        Connection c = connection;
        if (c == null) throw new IOException("the zygote has not connected its control channel");
        try {
            c.write(Frame.of(Frame.Type.CONTROL, message));
        } catch (IOException e) {
            throw new IOException("the zygote's control channel is closed: " + e.getMessage(), e);
        }
    }

    /** Sends from a thread of its own (the reader must stay free to read the answer); a failure is logged. */
    void sendLater(ObjectNode message) {
        VIRTUAL_TASKS.execute(() -> {
            try {
                send(message);
            } catch (IOException e) {
                LOG.debug("{}: {}", label, e.getMessage());
            }
        });
    }

    /** Closes the control channel, so the zygote exits (and its instances with it); kills it if it does not. */
    void stop() {
        stopping = true;
        Connection c = connection;
        if (c != null) c.close(); // EOF: the zygote exits
        process.thenAccept(p -> p.exit().completeOnTimeout("", STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS).thenRun(p::destroy));
    }

    private void readEvents() {
        try {
            while (true) {
                Frame frame = connection.read();
                if (frame.type() != Frame.Type.CONTROL) {
                    LOG.warn("{} (pid {}) sent an unexpected {} frame; ignored", label, pid(), frame.type());
                    continue;
                }
                try {
                    onEvent.accept(frame.header());
                } catch (RuntimeException e) {
                    LOG.warn("{} (pid {}) sent something unreadable: {}", label, pid(), e.toString());
                }
            }
        } catch (IOException closed) {
            // the zygote is gone or closed its channel; either way it serves no more
        } finally {
            eventsRead.complete(null);
            if (!stopping) stop();
        }
    }

    /** The last lines the zygote printed (its output file), joined with " | ". */
    private String lastOutput() {
        try {
            List<String> lines = Files.readAllLines(output, StandardCharsets.UTF_8).stream().filter(l -> !l.isBlank()).toList();
            return String.join(" | ", lines.subList(Math.max(0, lines.size() - OUTPUT_LINES_KEPT), lines.size()));
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    /** How a zygote started by Gale ended, from its exit status (above 128: killed by signal status - 128). */
    static String describeExit(int code) {
        return code > 128 ? "was killed by signal " + (code - 128) : "exited with code " + code;
    }

    static String messageOf(Throwable error) {
        Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null ? error.getCause() : error;
        return cause == null ? "unknown" : cause.getMessage() == null ? cause.toString() : cause.getMessage();
    }
}
