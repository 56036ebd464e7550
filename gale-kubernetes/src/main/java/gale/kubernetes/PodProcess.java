package gale.kubernetes;

import gale.runtime.InstanceFailedException;
import gale.runtime.InstanceFailure;
import gale.runtime.InstanceProcess;
import io.fabric8.kubernetes.api.model.Pod;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * An instance's pod, as {@link gale.runtime.SocketInstance} sees its process. The cluster's word
 * on the pod arrives through {@link #observe} (from {@link Pods}' informer); the first end
 * recorded, by the cluster or by Gale ({@link #end}), is the one the instance reports.
 *
 * <p>Life: created with the pod → running (the cluster says its container runs) → ended, and
 * never back. {@link #destroy} deletes the pod, once, however often it is called.
 */
final class PodProcess implements InstanceProcess {

    private final String name;
    private final long memoryMegabytes;
    private final Consumer<String> delete;
    private final CompletableFuture<String> exit = new CompletableFuture<>();
    private final CompletableFuture<Void> running = new CompletableFuture<>();
    private final AtomicBoolean destroyed = new AtomicBoolean();
    private volatile PodState last = new PodState.Waiting("not created yet");

    /** @param delete deletes the pod of that name; must not block the caller (it is called from the instance's threads) */
    PodProcess(String name, long memoryMegabytes, Consumer<String> delete) {
        this.name = name;
        this.memoryMegabytes = memoryMegabytes;
        this.delete = delete;
    }

    String name() {
        return name;
    }

    /** Completes once the cluster says the pod's container runs; fails with the pod's end if it ends first. */
    CompletableFuture<Void> running() {
        return running;
    }

    /** The last state the cluster reported, for messages ("not scheduled: Unschedulable: 0/3 nodes are available"). */
    PodState lastState() {
        return last;
    }

    /** What the cluster says of the pod now. Called on the informer's thread: only completes futures. */
    void observe(Pod pod) {
        PodState state = PodState.of(pod, memoryMegabytes);
        last = state;
        switch (state) {
            case PodState.Running r -> running.complete(null);
            case PodState.Ended ended -> end(ended.failure());
            case PodState.Waiting w -> { }
        }
    }

    /** The pod is gone from the cluster. */
    void deleted() {
        if (destroyed.get()) {
            exit.complete("pod " + name + " was deleted");
            running.completeExceptionally(new InstanceFailedException(new InstanceFailure(InstanceFailure.Kind.STOPPED, "stopped")));
        } else {
            end(new InstanceFailure(InstanceFailure.Kind.CRASHED, "pod " + name + " was deleted, and not by Gale (kubectl delete, "
                    + "an eviction, or its machine went away)"));
        }
    }

    /** Records how the pod ended, unless an end was recorded before: the instance fails with exactly this. */
    void end(InstanceFailure failure) {
        var ended = new InstanceFailedException(failure);
        exit.completeExceptionally(ended);
        running.completeExceptionally(ended);
    }

    @Override
    public CompletableFuture<String> exit() {
        return exit;
    }

    /** Deletes the pod (once); the cluster stops its container. */
    @Override
    public void destroy() {
        if (destroyed.compareAndSet(false, true)) delete.accept(name);
    }

    /** The kubelet holds the container to its memory limit; measuring it would take the metrics API, which Gale does not need. */
    @Override
    public long rssBytes() {
        return 0;
    }

    @Override
    public boolean limitsMemory() {
        return true;
    }

    /** The cluster reports a container's end a moment after its connection closed. */
    @Override
    public boolean mayReportExitLate() {
        return !exit.isDone();
    }

    @Override
    public String describe() {
        return "pod " + name;
    }

    @Override
    public String connectionClosedWhileRunning() {
        return "the connection to pod " + name + " closed while the cluster says the pod still runs (the network between the pod "
                + "and this node, or the function closed a file descriptor it did not open); instance killed";
    }
}
