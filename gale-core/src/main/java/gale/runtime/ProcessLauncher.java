package gale.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Starts every process Gale runs (instances, zygotes, helpers), from two platform threads that
 * live as long as Gale, and asks the kernel to kill each one when Gale dies.
 *
 * <p>Why the threads: the parent-death signal ({@code PR_SET_PDEATHSIG}, set here with
 * {@code setpriv --pdeathsig KILL} and by bubblewrap's {@code --die-with-parent}) fires when the
 * <em>thread</em> that started the child exits, not the process. Started from a virtual thread's
 * carrier or a pooled thread that later times out, an instance would be killed when that thread
 * went; started here, it dies exactly when Gale does, {@code kill -9} included, and never before.
 * Starting a process also blocks in {@code posix_spawn}, which here never holds a carrier.
 */
public final class ProcessLauncher {

    private static final Path SETPRIV = Path.of("/usr/bin/setpriv");
    private static final boolean HAS_SETPRIV = Files.isExecutable(SETPRIV);
    /** Core threads never time out, and tasks run through submit(), so no exception ends a thread. */
    private static final ExecutorService THREADS = new ThreadPoolExecutor(2, 2, 0, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(), Thread.ofPlatform().name("gale-launcher-", 0).daemon().factory());

    private ProcessLauncher() {
    }

    /**
     * Starts {@code builder}'s command (behind {@code setpriv --pdeathsig KILL} where setpriv is
     * installed) and returns the process. The caller may be a virtual thread: it parks while a
     * launcher thread spawns.
     */
    public static Process start(ProcessBuilder builder) throws IOException {
        List<String> command = withParentDeathSignal(builder.command());
        ProcessBuilder launched = new ProcessBuilder(command)
                .directory(builder.directory())
                .redirectInput(builder.redirectInput())
                .redirectOutput(builder.redirectOutput())
                .redirectError(builder.redirectError())
                .redirectErrorStream(builder.redirectErrorStream());
        launched.environment().clear();
        launched.environment().putAll(builder.environment());
        Future<Process> started = THREADS.submit(launched::start);
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return started.get(); // a spawn takes milliseconds: wait it out even when interrupted, or the child would leak
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof IOException io) throw io;
                    if (e.getCause() instanceof RuntimeException re) throw re;
                    throw new IOException(e.getCause());
                }
            }
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    /** The command as started: {@code setpriv --pdeathsig KILL -- COMMAND} where setpriv exists, else unchanged. */
    static List<String> withParentDeathSignal(List<String> command) {
        if (!HAS_SETPRIV) return command;
        List<String> wrapped = new ArrayList<>(List.of(SETPRIV.toString(), "--pdeathsig", "KILL", "--"));
        wrapped.addAll(command);
        return wrapped;
    }
}
