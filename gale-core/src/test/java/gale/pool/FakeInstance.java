package gale.pool;

import gale.runtime.Instance;
import gale.runtime.InstanceFailedException;
import gale.runtime.InstanceFailure;
import gale.runtime.InstanceSpec;
import gale.runtime.InvokeRequest;
import gale.runtime.InvokeResult;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/** An instance without a process: ready after a delay (or failing to load), counting calls in flight. */
final class FakeInstance implements Instance {

    private static final AtomicInteger IDS = new AtomicInteger();

    final AtomicInteger inFlight = new AtomicInteger();
    final AtomicInteger maxInFlight = new AtomicInteger();
    private final String id = "fake-" + IDS.incrementAndGet();
    private final InstanceSpec spec;
    private final CompletableFuture<String> ready = new CompletableFuture<>();
    private final CompletableFuture<InstanceFailure> terminated = new CompletableFuture<>();
    private final AtomicReference<InstanceFailure> failure = new AtomicReference<>();

    FakeInstance(InstanceSpec spec, Duration startDelay, boolean loads) {
        this.spec = spec;
        CompletableFuture.delayedExecutor(startDelay.toMillis(), TimeUnit.MILLISECONDS).execute(() -> {
            if (loads) {
                ready.complete("http");
            } else {
                kill(new InstanceFailure(InstanceFailure.Kind.LOAD_FAILED, "import error: no module named 'x'"));
            }
        });
    }

    /** Called by a test while it holds a lease on this instance. */
    void enter() {
        int now = inFlight.incrementAndGet();
        maxInFlight.accumulateAndGet(now, Math::max);
    }

    void exit() {
        inFlight.decrementAndGet();
    }

    boolean isDead() {
        return failure.get() != null;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public InstanceSpec spec() {
        return spec;
    }

    @Override
    public CompletableFuture<String> ready() {
        return ready;
    }

    @Override
    public Optional<InstanceFailure> failure() {
        return Optional.ofNullable(failure.get());
    }

    @Override
    public CompletableFuture<InstanceFailure> terminated() {
        return terminated;
    }

    @Override
    public InvokeResult invoke(InvokeRequest request) {
        return new InvokeResult.Response(200, List.of(), new byte[0]);
    }

    @Override
    public void kill(InstanceFailure reason) {
        if (!failure.compareAndSet(null, reason)) return;
        ready.completeExceptionally(new InstanceFailedException(reason));
        terminated.complete(reason);
    }

    @Override
    public void stop(Duration grace) {
        kill(new InstanceFailure(InstanceFailure.Kind.STOPPED, "stopped"));
    }

    @Override
    public long rssBytes() {
        return 0;
    }

    @Override
    public long lastRssBytes() {
        return 0;
    }
}
