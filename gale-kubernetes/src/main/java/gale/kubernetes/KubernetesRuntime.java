package gale.kubernetes;

import gale.config.FunctionConfig;
import gale.runtime.Connection;
import gale.runtime.DeployFailure;
import gale.runtime.Frame;
import gale.runtime.Instance;
import gale.runtime.InstanceFailure;
import gale.runtime.InstanceIds;
import gale.runtime.InstanceSpec;
import gale.runtime.ProcessOutput;
import gale.runtime.Runtime;
import gale.runtime.RuntimeContext;
import gale.runtime.SocketInstance;
import gale.runtime.python.PythonRuntime;
import gale.util.Deadlines;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.LogWatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The python3 runtime with its instances as pods: one pod per instance, in one namespace, under
 * the same {@link Runtime} contract as local processes, so pools, scaling to zero, readiness,
 * logs and calls work unchanged (docs/kubernetes.md).
 *
 * <p>A version is prepared here as locally ({@link PythonRuntime#prepare}: requirements.txt) and
 * packed once into archives ({@link VersionArchives}). An instance is a pod
 * ({@link PodManifests#instancePod}) whose bootstrap connects back to this node's instance port
 * over TCP, proves its nonce (docs/protocol.md, "Over TCP"), and receives its environment and the
 * archives before it loads user code. It is ready once the cluster says the pod runs, it has joined,
 * and its code has loaded; a pod that does not get that far within the start timeout, or that the
 * cluster says cannot start (an image it cannot pull) or has ended (OOMKilled, an exit), fails the
 * instance saying so. What user code prints arrives in LOG frames as locally; what reaches the
 * container's stdout and stderr (C libraries, subprocesses) comes from the pod's log, tagged "pod".
 */
public final class KubernetesRuntime implements Runtime {

    private static final Logger LOG = LoggerFactory.getLogger(KubernetesRuntime.class);
    /** Archive bytes per ARCHIVE frame: small enough for the pod to hold, large enough to cost few frames. */
    private static final int ARCHIVE_CHUNK = 1024 * 1024;
    /** Platform threads send SETUP and the archives: they read files, which a virtual thread must not block on. */
    private static final Executor SETUP_SENDERS = Executors.newCachedThreadPool(Thread.ofPlatform().daemon().name("gale-pod-setup-", 0).factory());

    private final RuntimeContext context;
    private final PythonRuntime python;
    private final KubernetesClient client;
    private final KubernetesSettings settings;
    private final Map<Path, List<VersionArchives.Archive>> archives = new ConcurrentHashMap<>();
    private final AtomicReference<CompletableFuture<Void>> noNetworkPolicy = new AtomicReference<>();
    private Pods pods;
    private String galeAddress;
    private int instancePort;

    /**
     * @param python prepares versions (requirements) and says what their instances' environment holds;
     *               its zygotes should be off, as nothing here forks from them
     */
    public KubernetesRuntime(RuntimeContext context, PythonRuntime python, KubernetesClient client, KubernetesSettings settings) {
        this.context = context;
        this.python = python;
        this.client = client;
        this.settings = settings;
    }

    /** Deletes what a last run of this node left, starts following its pods, and listens for instances on TCP. */
    @Override
    public void start() {
        python.start();
        pods = new Pods(client, settings);
        try {
            pods.reapLeftovers();
            pods.start();
        } catch (KubernetesClientException e) {
            throw new IllegalStateException("cannot manage pods in namespace " + settings.namespace() + ": " + pods.describe(e)
                    + "; check the cluster's address and that Gale's service account may manage pods there (deploy/kubernetes/rbac.yaml)", e);
        }
        // Pods on the loopback address are tests' local processes: nothing else need reach the port then.
        InetAddress bind = settings.advertisesLoopback() ? InetAddress.getLoopbackAddress() : null;
        instancePort = context.listener().listenTcp(new InetSocketAddress(bind, settings.instancePort())).getPort();
        galeAddress = settings.address(instancePort);
        LOG.info("instances run as pods in namespace {} (image {}); they connect to {}", settings.namespace(), settings.image(), galeAddress);
    }

    @Override
    public String name() {
        return python.name();
    }

    /** Prepares as locally (requirements.txt), then packs the bundle and the packages for the version's pods. */
    @Override
    public Optional<Path> prepare(Path bundleDir, Path versionDir) throws DeployFailure {
        Optional<Path> environment = python.prepare(bundleDir, versionDir);
        archives.put(bundleDir, VersionArchives.prepare(bundleDir, environment, versionDir));
        return environment;
    }

    /**
     * Pods are always sandboxed (the pod security context), so every --sandbox setting is met. A
     * --network none pod may reach only this node, which a NetworkPolicy names by IP address.
     */
    @Override
    public void checkIsolation(FunctionConfig config) throws DeployFailure {
        if (PodManifests.noNetwork(config) && !settings.advertisesAnIp()) {
            throw new DeployFailure("--network none needs Gale's --advertise-address to be an IP address (the NetworkPolicy that "
                    + "cuts the pod off lets it reach only that address), got '" + settings.advertiseHost()
                    + "'; set GALE_K8S_ADVERTISE_ADDRESS from the downward API's status.podIP (deploy/kubernetes/gale.yaml)");
        }
    }

    /** Creates the instance's pod; the instance is ready once it runs, has joined over TCP and has loaded user code. */
    @Override
    public Instance start(InstanceSpec spec) {
        List<VersionArchives.Archive> files = archivesOf(spec);
        if (PodManifests.noNetwork(spec.config())) ensureNoNetworkPolicy();
        String id = InstanceIds.next(spec);
        String nonce = InstanceIds.nonce();
        var pod = new PodProcess(PodManifests.podName(id), spec.config().memory().megabytes(), pods::delete);
        var connecting = context.listener().expect(id, nonce);
        try {
            pods.create(PodManifests.instancePod(settings, spec, id, nonce, galeAddress), pod);
        } catch (KubernetesClientException e) {
            connecting.cancel(false);
            throw new IllegalStateException("cannot create a pod for " + spec.label() + " in namespace " + settings.namespace() + ": "
                    + pods.describe(e), e);
        }
        // The instance reads frames once the pod runs and has its environment and files; its READY comes after them.
        Map<String, String> env = python.remoteEnvironment(spec, "/tmp", PodManifests.PACKAGE_ROOT);
        CompletableFuture<Connection> joined = connecting.thenCombine(pod.running(), (connection, running) -> connection)
                .thenApplyAsync(connection -> setUp(pod, connection, env, files), SETUP_SENDERS);
        var instance = SocketInstance.launching(id, spec, CompletableFuture.completedFuture(pod), joined, context.observer(), Optional.empty());
        instance.terminated().thenRun(() -> {
            connecting.cancel(false); // the listener forgets an instance that never connected
            connecting.thenAccept(Connection::close); // and a connection the instance never took closes
        });
        failIfNotJoinedInTime(pod, joined);
        pod.running().thenRunAsync(() -> followLog(pod, instance), Thread::startVirtualThread);
        return instance;
    }

    private List<VersionArchives.Archive> archivesOf(InstanceSpec spec) {
        List<VersionArchives.Archive> files = archives.get(spec.bundleDir());
        if (files == null) throw new IllegalStateException(spec.label() + " was not prepared for pods; deploy it again");
        return files;
    }

    /** The policy that keeps this node's --network none pods off the network: made once, before the first such pod. */
    private void ensureNoNetworkPolicy() {
        var made = new CompletableFuture<Void>();
        if (noNetworkPolicy.compareAndSet(null, made)) {
            try {
                pods.apply(PodManifests.noNetworkPolicy(settings, instancePort));
                made.complete(null);
            } catch (KubernetesClientException e) {
                noNetworkPolicy.set(null); // the next start tries again
                made.completeExceptionally(e);
            }
        }
        try {
            noNetworkPolicy.get().join(); // every --network none pod waits for it: none runs unfenced
        } catch (RuntimeException e) {
            String why = e.getCause() instanceof KubernetesClientException k ? pods.describe(k) : e.getMessage();
            throw new IllegalStateException("cannot create NetworkPolicy " + PodManifests.noNetworkPolicyName(settings) + " that keeps "
                    + "--network none pods off the network: " + why + "; Gale's service account needs to manage networkpolicies "
                    + "in namespace " + settings.namespace(), e);
        }
    }

    /**
     * Sends SETUP (the instance's environment and the archives it is to get) and then the archives,
     * on a platform thread, before the instance reads its first frame.
     */
    private Connection setUp(PodProcess pod, Connection connection, Map<String, String> env, List<VersionArchives.Archive> files) {
        var header = Frame.newHeader();
        var variables = header.putObject("env");
        env.forEach(variables::put);
        var announced = header.putArray("archives");
        for (var archive : files) {
            announced.addObject().put("name", archive.name()).put("digest", archive.digest()).put("bytes", archive.bytes());
        }
        try {
            connection.write(new Frame(Frame.Type.SETUP, header, null));
            byte[] chunk = new byte[ARCHIVE_CHUNK];
            for (var archive : files) {
                try (InputStream in = Files.newInputStream(archive.file())) {
                    int n;
                    while ((n = in.readNBytes(chunk, 0, chunk.length)) > 0) {
                        connection.write(new Frame(Frame.Type.ARCHIVE, Frame.newHeader(), n == chunk.length ? chunk : Arrays.copyOf(chunk, n)));
                    }
                }
            }
            return connection;
        } catch (IOException e) {
            pod.end(new InstanceFailure(InstanceFailure.Kind.CRASHED, "lost the connection to " + pod.describe()
                    + " while sending it its files: " + e.getMessage()));
            connection.close();
            throw new UncheckedIOException(e);
        }
    }

    /** The pod has the start timeout to run and join; then its instance fails saying how far it got. */
    private void failIfNotJoinedInTime(PodProcess pod, CompletableFuture<Connection> joined) {
        var timer = Deadlines.shared().at(Instant.now().plus(settings.podStartTimeout()), () -> {
            if (joined.isDone()) return;
            String timeout = gale.config.Durations.format(settings.podStartTimeout());
            String how = pod.lastState() instanceof PodState.Running
                    ? pod.describe() + " runs but did not connect to Gale at " + galeAddress + " within " + timeout
                            + "; can pods reach this node's instance port (a NetworkPolicy, --advertise-address)?"
                    : pod.describe() + " did not start within " + timeout + " (" + describe(pod.lastState())
                            + "); see kubectl describe pod " + pod.name() + " -n " + settings.namespace();
            pod.end(new InstanceFailure(InstanceFailure.Kind.CRASHED, how));
        });
        joined.whenComplete((connection, error) -> timer.cancel());
    }

    private static String describe(PodState state) {
        return switch (state) {
            case PodState.Waiting waiting -> waiting.why();
            case PodState.Running running -> "running";
            case PodState.Ended ended -> ended.failure().message();
        };
    }

    /** What the container writes to its stdout and stderr (not user code's prints, which come as LOG frames), into the logs. */
    private void followLog(PodProcess pod, Instance instance) {
        if (instance.failure().isPresent()) return;
        try {
            LogWatch watch = pods.followLog(pod.name(),
                    ProcessOutput.lines(line -> context.observer().log(instance, Optional.empty(), "pod", line)));
            instance.terminated().thenRun(watch::close);
        } catch (KubernetesClientException e) {
            LOG.debug("cannot follow the log of {}: {}", pod.describe(), e.getMessage());
        }
    }

    /** Stops following pods and deletes what is left of this node's (the pools have stopped their instances). */
    @Override
    public void close() {
        if (pods != null) pods.close();
        python.close();
    }
}
