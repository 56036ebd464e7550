package gale.kubernetes;

import io.fabric8.kubernetes.api.model.ContainerStateBuilder;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;

/**
 * Plays the kubelet against kubernetes-server-mock (CRUD mode), which stores pods but runs no
 * containers: for each pod Gale creates it starts the pod's command as a local process (Debian's
 * python3 with Gale's Python package from the repository standing in for the function image),
 * with the pod's environment, in a folder standing in for its working emptyDir, and reports the
 * pod Running; it kills the process when the pod is deleted and reports its exit. Tests can also
 * hold a pod back ({@link #holdPods}) and set any status the real kubelet would report.
 */
public final class FakeKubelet implements AutoCloseable {

    /** Debian's interpreter: the function image's python3. */
    public static final Path PYTHON = Path.of("/usr/bin/python3");

    private final KubernetesClient client;
    private final String namespace;
    private final Path root;
    private final Path pythonDir;
    private final Map<String, Process> running = new ConcurrentHashMap<>();
    private final Set<String> deleted = ConcurrentHashMap.newKeySet();
    private volatile boolean hold;
    private volatile UnaryOperator<Map<String, String>> environment = env -> env;
    private SharedIndexInformer<Pod> informer;

    /**
     * @param root      where the pods' working folders go
     * @param pythonDir the repository's python/ folder (holds the gale package)
     */
    public FakeKubelet(KubernetesClient client, String namespace, Path root, Path pythonDir) {
        this.client = client;
        this.namespace = namespace;
        this.root = root;
        this.pythonDir = pythonDir;
    }

    /** The repository's python/ folder, seen from a module's folder (where surefire runs). */
    public static Path repositoryPython() {
        return Path.of("").toAbsolutePath().getParent().resolve("python");
    }

    public FakeKubelet start() {
        informer = client.pods().inNamespace(namespace).inform(new ResourceEventHandler<>() {
            @Override
            public void onAdd(Pod pod) {
                boolean gales = pod.getMetadata().getLabels() != null && pod.getMetadata().getLabels().containsKey(PodManifests.INSTANCE);
                if (gales && !hold) run(pod.getMetadata().getName());
            }

            @Override
            public void onUpdate(Pod before, Pod pod) {
            }

            @Override
            public void onDelete(Pod pod, boolean finalStateUnknown) {
                String name = pod.getMetadata().getName();
                deleted.add(name);
                Process process = running.remove(name);
                if (process != null) process.destroyForcibly();
            }
        }, 0);
        return this;
    }

    /** From now on pods stay Pending until a test runs them ({@link #run}) or sets their status. */
    public void holdPods() {
        hold = true;
    }

    /** Changes the environment pods start with (a wrong nonce, say). */
    public void changeEnvironment(UnaryOperator<Map<String, String>> change) {
        environment = change;
    }

    /** Starts the pod's container: its command as a local process, then reports it Running. */
    public void run(String name) {
        Pod pod = client.pods().inNamespace(namespace).withName(name).get();
        var container = pod.getSpec().getContainers().getFirst();
        Map<String, String> env = new HashMap<>();
        env.put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
        for (EnvVar v : container.getEnv()) env.put(v.getName(), v.getValue());
        env.put("PYTHONPATH", pythonDir.toString()); // the image's /opt/gale/python
        env = environment.apply(env);
        List<String> command = new java.util.ArrayList<>(container.getCommand());
        if (command.getFirst().equals("python3")) command.set(0, PYTHON.toString());
        try {
            Path work = Files.createDirectories(root.resolve(name));
            var builder = new ProcessBuilder(command).directory(work.toFile())
                    .redirectOutput(work.resolveSibling(name + ".out").toFile())
                    .redirectErrorStream(true);
            builder.environment().clear();
            builder.environment().putAll(env);
            Process process = builder.start();
            running.put(name, process);
            setStatus(name, runningStatus());
            process.onExit().thenRun(() -> {
                if (running.remove(name, process) && !deleted.contains(name)) {
                    exited(name, process.exitValue(), null, process.exitValue() == 0 ? null : output(name));
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What the pod's process printed to its stdout and stderr. */
    public String output(String name) {
        try {
            Path out = root.resolve(name + ".out");
            return Files.exists(out) ? Files.readString(out) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The kernel's OOM killer strikes: the process dies and the pod reports OOMKilled. */
    public void oomKill(String name) {
        Process process = running.remove(name);
        if (process != null) {
            process.destroyForcibly();
            try {
                process.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        exited(name, 137, "OOMKilled", null);
    }

    /** The container waits, e.g. ImagePullBackOff. */
    public void waiting(String name, String reason, String message) {
        setStatus(name, new PodStatusBuilder().withPhase("Pending")
                .withContainerStatuses(new ContainerStatusBuilder().withName(PodManifests.CONTAINER).withReady(false)
                        .withState(new ContainerStateBuilder().withNewWaiting().withReason(reason).withMessage(message).endWaiting().build())
                        .build())
                .build());
    }

    /** The scheduler finds no machine for the pod. */
    public void unschedulable(String name, String message) {
        setStatus(name, new PodStatusBuilder().withPhase("Pending")
                .withConditions(new PodConditionBuilder().withType("PodScheduled").withStatus("False").withReason("Unschedulable")
                        .withMessage(message).build())
                .build());
    }

    /** Pods of the namespace that exist now. */
    public List<Pod> pods() {
        return client.pods().inNamespace(namespace).list().getItems();
    }

    public boolean isRunning(String name) {
        Process process = running.get(name);
        return process != null && process.isAlive();
    }

    /** As the kubelet reports an exit; {@code message} is what FallbackToLogsOnError makes of the last lines it printed. */
    private void exited(String name, int code, String reason, String message) {
        setStatus(name, new PodStatusBuilder().withPhase(code == 0 ? "Succeeded" : "Failed")
                .withContainerStatuses(new ContainerStatusBuilder().withName(PodManifests.CONTAINER).withReady(false)
                        .withState(new ContainerStateBuilder().withNewTerminated().withExitCode(code)
                                .withReason(reason == null ? (code == 0 ? "Completed" : "Error") : reason).withMessage(message)
                                .endTerminated().build())
                        .build())
                .build());
    }

    private static PodStatus runningStatus() {
        return new PodStatusBuilder().withPhase("Running").withPodIP("127.0.0.1")
                .withContainerStatuses(new ContainerStatusBuilder().withName(PodManifests.CONTAINER).withReady(true)
                        .withState(new ContainerStateBuilder().withNewRunning().endRunning().build()).build())
                .build();
    }

    private void setStatus(String name, PodStatus status) {
        Pod pod = client.pods().inNamespace(namespace).withName(name).get();
        if (pod == null) return;
        pod.setStatus(status);
        client.pods().inNamespace(namespace).resource(pod).updateStatus();
    }

    @Override
    public void close() {
        if (informer != null) informer.stop();
        running.values().forEach(Process::destroyForcibly);
        for (Process p : running.values()) {
            try {
                p.waitFor(Duration.ofSeconds(5).toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
