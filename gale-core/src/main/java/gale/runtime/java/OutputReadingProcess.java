package gale.runtime.java;

import gale.runtime.Instance;
import gale.runtime.InstanceObserver;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A JVM instance's process as {@link gale.runtime.ProcessInstance} sees it, except that its
 * stdout and stderr are read here, on two platform threads, and handed to the observer line by
 * line; ProcessInstance gets empty streams.
 *
 * <p>Why: ProcessInstance reads the pipes on virtual threads. A JVM instance sends its output
 * over the socket, so its pipes stay silent for its whole life, and two virtual threads blocked
 * for good in pipe reads left the virtual-thread scheduler of a 2-CPU server with no carrier
 * to run anything else (every HTTP request hung; seen in JavaFunctionTest). Drop this class
 * once ProcessInstance reads pipes on platform threads.
 */
final class OutputReadingProcess extends Process {

    private final Process process;

    private OutputReadingProcess(Process process) {
        this.process = process;
    }

    /** Wraps {@code process}; call {@link #forwardOutput} once the instance exists. */
    static OutputReadingProcess of(Process process) {
        return new OutputReadingProcess(process);
    }

    /** Starts the two readers; what the JVM itself prints (warnings, "Terminating due to java.lang.OutOfMemoryError") is logged with the instance id. */
    void forwardOutput(Instance instance, InstanceObserver observer) {
        forward(process.getInputStream(), "stdout", instance, observer);
        forward(process.getErrorStream(), "stderr", instance, observer);
    }

    private static void forward(InputStream stream, String name, Instance instance, InstanceObserver observer) {
        Thread.ofPlatform().daemon().name("gale-" + name + "-" + instance.id()).start(() -> {
            try (var reader = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
                String line;
                while ((line = reader.readLine()) != null) observer.log(instance, Optional.empty(), name, line);
            } catch (IOException ignored) {
                // the process is gone
            }
        });
    }

    @Override
    public OutputStream getOutputStream() {
        return process.getOutputStream();
    }

    @Override
    public InputStream getInputStream() {
        return InputStream.nullInputStream();
    }

    @Override
    public InputStream getErrorStream() {
        return InputStream.nullInputStream();
    }

    @Override
    public int waitFor() throws InterruptedException {
        return process.waitFor();
    }

    @Override
    public boolean waitFor(long timeout, TimeUnit unit) throws InterruptedException {
        return process.waitFor(timeout, unit);
    }

    @Override
    public int exitValue() {
        return process.exitValue();
    }

    @Override
    public void destroy() {
        process.destroy();
    }

    @Override
    public Process destroyForcibly() {
        process.destroyForcibly();
        return this;
    }

    @Override
    public boolean supportsNormalTermination() {
        return process.supportsNormalTermination();
    }

    @Override
    public boolean isAlive() {
        return process.isAlive();
    }

    @Override
    public long pid() {
        return process.pid();
    }

    @Override
    public CompletableFuture<Process> onExit() {
        return process.onExit().thenApply(p -> this);
    }

    @Override
    public ProcessHandle toHandle() {
        return process.toHandle();
    }

    @Override
    public ProcessHandle.Info info() {
        return process.info();
    }

    @Override
    public Stream<ProcessHandle> children() {
        return process.children();
    }

    @Override
    public Stream<ProcessHandle> descendants() {
        return process.descendants();
    }
}
