package gale.runtime.python;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import gale.runtime.Connection;
import gale.runtime.InstanceIds;
import gale.runtime.InstanceListener;
import gale.runtime.ProcessLauncher;
import gale.runtime.SocketInstance;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The base zygote of the Python interpreter (python/gale/_zygote.py, class {@code Base}): it
 * imports the packages most functions use once, and every version's zygote is forked from it,
 * into the version's sandbox, so those pages are shared copy-on-write by all functions instead
 * of being imported again by each (SOCK's idea, OpenLambda). It runs outside any sandbox, as
 * root where Gale is, because its children must enter a sandbox's namespaces; it runs Gale's
 * code and installed packages only, never a bundle's, and each child drops every capability
 * before it touches the version's files.
 */
final class BaseZygote {

    private static final Logger LOG = LoggerFactory.getLogger(BaseZygote.class);

    private final ZygoteControl control;
    private final CompletableFuture<Void> ready = new CompletableFuture<>();
    /** Spawns asked for and not yet answered, by zygote id. */
    private final Map<String, CompletableFuture<SocketInstance.OsProcess>> spawning = new ConcurrentHashMap<>();
    /** Exits of the zygotes it forked (it adopts those it forks into a sandbox), by zygote id. */
    private final Map<String, CompletableFuture<String>> exits = new ConcurrentHashMap<>();
    /** Their pids on the host, by zygote id. */
    private final Map<String, Long> pids = new ConcurrentHashMap<>();
    private volatile boolean gone;
    private volatile boolean entersSandboxes;

    private BaseZygote(String id, CompletableFuture<Connection> connecting, CompletableFuture<SocketInstance.OsProcess> process,
                       Path output) {
        this.control = new ZygoteControl(id, "the base zygote", connecting, process, output, this::handle);
    }

    /**
     * Starts the base zygote of {@code python}; it imports {@code modules} (those installed) in the background.
     *
     * @param env the environment it imports them under: that of every version's instances, without the function's own
     */
    static BaseZygote start(Path python, Path zygoteScript, List<String> modules, Map<String, String> env, InstanceListener listener,
                            Path workDir, Path outputDir) throws IOException {
        String id = "zygote-base-" + InstanceIds.nonce().substring(0, 8);
        String nonce = InstanceIds.nonce();
        Path output = Files.createDirectories(outputDir).resolve(id + ".log");
        Map<String, String> environment = new LinkedHashMap<>(env);
        environment.put("GALE_SOCKET", listener.socketPath().toString());
        environment.put("GALE_ZYGOTE_ID", id);
        environment.put("GALE_ZYGOTE_NONCE", nonce);
        environment.put("GALE_ZYGOTE_ROLE", "base");
        environment.put("GALE_BASE_PRELOAD", String.join(",", modules));
        ProcessBuilder pb = new ProcessBuilder(python.toString(), zygoteScript.toString())
                .directory(Files.createDirectories(workDir).toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectOutput(output.toFile())
                .redirectErrorStream(true);
        pb.environment().clear();
        pb.environment().putAll(environment);
        var connecting = listener.expect(id, nonce);
        Process process;
        try {
            process = ProcessLauncher.start(pb);
        } catch (IOException | RuntimeException e) {
            connecting.cancel(false);
            throw e;
        }
        var launched = new SocketInstance.OsProcess(process.pid(), Optional.of(process.toHandle()),
                process.onExit().thenApply(p -> ZygoteControl.describeExit(p.exitValue())));
        var base = new BaseZygote(id, connecting, CompletableFuture.completedFuture(launched), output);
        base.control.start(base::onExit);
        return base;
    }

    /** Completes once the base has imported its modules; fails when it exits or gives up first. */
    CompletableFuture<Void> ready() {
        return ready;
    }

    /** True when it can fork zygotes into versions' sandboxes (it may join namespaces: root). */
    boolean entersSandboxes() {
        return entersSandboxes;
    }

    /** True until the base has exited or failed. */
    boolean isServing() {
        return !gone && !ready.isCompletedExceptionally();
    }

    /**
     * Asks for a version's zygote (the request {@link PythonZygote#spawn} builds). Completes
     * with the zygote's process, by its pid on the host, once forked; fails when the base
     * cannot (it is gone, the fork or the sandbox failed).
     */
    CompletableFuture<SocketInstance.OsProcess> spawn(String zygoteId, ObjectNode request) {
        var spawned = new CompletableFuture<SocketInstance.OsProcess>();
        spawning.put(zygoteId, spawned);
        spawned.whenComplete((p, error) -> spawning.remove(zygoteId, spawned));
        exits.put(zygoteId, new CompletableFuture<>());
        if (gone) spawned.completeExceptionally(new IOException("the base zygote has exited"));
        ready.whenCompleteAsync((ok, error) -> {
            if (error != null) {
                spawned.completeExceptionally(error);
                return;
            }
            try {
                control.send(request);
            } catch (IOException e) {
                spawned.completeExceptionally(e);
            }
        }, ZygoteControl.VIRTUAL_TASKS);
        return spawned.orTimeout(PythonZygote.FORK_WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    void stop() {
        control.stop();
    }

    private void handle(JsonNode event) {
        String id = event.path("id").asText();
        switch (event.path("event").asText()) {
            case "ready" -> {
                entersSandboxes = event.path("sandboxes").asBoolean();
                LOG.info("base zygote ready in {} ms (pid {}, {} modules){}{}", event.path("ms").asLong(), control.pid(),
                        event.path("modules").asInt(), PythonZygote.describePreload(event),
                        entersSandboxes ? "" : "; it cannot enter sandboxes (not root), so sandboxed versions' zygotes start on their own");
                ready.complete(null);
            }
            case "spawned" -> {
                long pid = event.path("pid").asLong();
                var spawned = spawning.get(id);
                var exit = exits.getOrDefault(id, new CompletableFuture<>());
                pids.put(id, pid);
                exit.whenComplete((how, error) -> {
                    exits.remove(id);
                    pids.remove(id);
                });
                if (ProcessHandle.of(pid).isEmpty()) exit.complete("exited before Gale saw it");
                var process = new SocketInstance.OsProcess(pid, ProcessHandle.of(pid), exit);
                if (spawned == null || !spawned.complete(process)) process.destroy(); // given up on meanwhile
            }
            case "spawn_failed" -> {
                exits.remove(id);
                pids.remove(id);
                var spawned = spawning.get(id);
                if (spawned != null) spawned.completeExceptionally(new IOException(event.path("error").asText()));
            }
            case "exited" -> {
                var exit = exits.remove(id);
                if (exit != null) {
                    exit.complete(event.has("signal") ? "was killed by signal " + event.path("signal").asInt()
                            : "exited with code " + event.path("code").asInt());
                }
            }
            case "failed" -> {
                LOG.warn("the base zygote cannot serve: {}", event.path("error").asText());
                ready.completeExceptionally(new IOException("the base zygote failed: " + event.path("error").asText()));
            }
            default -> LOG.warn("the base zygote sent an unexpected event: {}", event);
        }
    }

    private void onExit(String how, String lastOutput) {
        gone = true;
        if (!control.isStopping()) {
            LOG.warn("the base zygote (pid {}) {}{}; new zygotes start on their own", control.pid(), how,
                    lastOutput.isEmpty() ? "" : ": " + lastOutput);
        }
        var error = new IOException("the base zygote " + how);
        ready.completeExceptionally(error);
        spawning.values().forEach(s -> s.completeExceptionally(error));
        // Those it forked into a sandbox go on (the others die with it): their exits are seen from /proc now.
        pids.forEach((id, pid) -> {
            var exit = exits.get(id);
            if (exit == null) return;
            ProcessHandle.of(pid).ifPresentOrElse(h -> h.onExit().thenRun(() -> exit.complete("exited")), () -> exit.complete("exited"));
        });
    }
}
