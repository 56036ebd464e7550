package gale.usage;

import gale.config.ConfigResolver;
import gale.config.FunctionConfig;
import gale.pool.InstancePool;
import gale.runtime.Instance;
import gale.runtime.InstanceFailure;
import gale.runtime.InstanceSpec;
import gale.runtime.InvokeRequest;
import gale.runtime.InvokeResult;
import gale.runtime.ProcessTree;
import gale.runtime.UsageCounters;
import gale.store.Store;
import gale.store.TestStores;
import gale.store.UsageRow;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The usage meter: calls made through a pool's leases, the CPU time of the instance's process (read from
 * /proc here, as on a host without cgroups), per version per minute, and a map job's share of that CPU
 * time in proportion to the time its calls kept the instance busy.
 */
class UsageMeterTest {

    @TempDir
    Path dir;

    /** An instance whose process is a Python that burns 0.4 s of CPU at once and then sleeps; each call takes 150 ms. */
    private static final class BurnerInstance implements Instance {
        final Process process;
        final InstanceSpec spec;
        final UsageCounters counters;
        final CompletableFuture<InstanceFailure> terminated = new CompletableFuture<>();

        BurnerInstance(InstanceSpec spec) throws Exception {
            this.spec = spec;
            this.process = new ProcessBuilder("/usr/bin/python3", "-c",
                    "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass\ntime.sleep(60)").start();
            this.counters = new UsageCounters(Optional.empty(), process::pid);
        }

        @Override public String id() { return "burner"; }
        @Override public InstanceSpec spec() { return spec; }
        @Override public CompletableFuture<String> ready() { return CompletableFuture.completedFuture("http"); }
        @Override public Optional<InstanceFailure> failure() { return Optional.empty(); }
        @Override public CompletableFuture<InstanceFailure> terminated() { return terminated; }
        @Override public void kill(InstanceFailure reason) { process.destroyForcibly(); }
        @Override public void stop(Duration grace) { process.destroyForcibly(); }
        @Override public long rssBytes() { return 0; }
        @Override public long lastRssBytes() { return 0; }
        @Override public UsageCounters usageCounters() { return counters; }

        @Override
        public InvokeResult invoke(InvokeRequest request) {
            try {
                Thread.sleep(150);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return new InvokeResult.Response(200, List.of(), new byte[0]);
        }
    }

    @Test
    void callsAndCpuTimeArePerVersionPerMinuteAndAJobGetsItsShareOfTheCpu() throws Exception {
        FunctionConfig config = ConfigResolver.fromMap("scorer", Map.of("memory", "512MB"));
        InstanceSpec spec = new InstanceSpec("scorer", 3, config, dir, Optional.empty());
        BurnerInstance instance = new BurnerInstance(spec);
        try (Store store = TestStores.open(dir)) {
            UsageMeter meter = new UsageMeter(store.usage(), Clock.systemUTC());
            InstancePool pool = new InstancePool(spec, s -> instance, meter);
            Instant deadline = Instant.now().plusSeconds(30);
            try (InstancePool.Lease lease = pool.acquireForJob(deadline, "job-1")) {
                lease.invoke(request());
            }
            try (InstancePool.Lease lease = pool.acquire(deadline)) {
                lease.invoke(request());
            }
            await().atMost(Duration.ofSeconds(20)).until(() -> ProcessTree.cpuNanos(instance.process.pid()) >= 400_000_000L);

            meter.sample();
            meter.write();

            List<UsageRow> versions = store.usage().functions(0, Optional.of("scorer"));
            assertThat(versions).hasSize(1);
            UsageRow whole = versions.getFirst();
            assertThat(whole.version()).isEqualTo(3);
            assertThat(whole.memoryMb()).isEqualTo(512);
            assertThat(whole.calls()).isEqualTo(2);
            assertThat(whole.billedMs1()).isGreaterThanOrEqualTo(300);
            assertThat(whole.billedMs100()).isGreaterThanOrEqualTo(whole.billedMs1()).matches(ms -> ms % 100 == 0);
            assertThat(whole.cpuMicros()).isGreaterThanOrEqualTo(400_000);
            assertThat(whole.instanceMs()).isGreaterThanOrEqualTo(300);
            assertThat(whole.peakInstances()).isEqualTo(1);
            assertThat(whole.source()).isEqualTo("proc");

            UsageRow job = store.usage().job("job-1").getFirst();
            assertThat(job.calls()).isEqualTo(1);
            // Its call kept the instance busy about half the time calls did: about half the CPU time is its.
            assertThat((double) job.cpuMicros() / whole.cpuMicros()).isBetween(0.25, 0.75);
            assertThat(store.usage().jobCpuMicros("job-1")).isEqualTo(job.cpuMicros());

            // A second write adds to the same minute instead of replacing it.
            try (InstancePool.Lease lease = pool.acquire(deadline)) {
                lease.invoke(request());
            }
            meter.sample();
            meter.write();
            assertThat(store.usage().functions(0, Optional.empty()).getFirst().calls()).isEqualTo(3);
        } finally {
            instance.process.destroyForcibly();
        }
    }

    private static InvokeRequest request() {
        return new InvokeRequest("r", "GET", "/", "", List.of(), new byte[0], "127.0.0.1", "http", "localhost", Instant.now().plusSeconds(30));
    }
}
