package gale.kubernetes;

import gale.config.ConfigResolver;
import gale.pool.InstancePool;
import gale.runtime.DeployFailure;
import gale.runtime.Instance;
import gale.runtime.InstanceFailedException;
import gale.runtime.InstanceFailure;
import gale.runtime.InstanceListener;
import gale.runtime.InstanceSpec;
import gale.runtime.InvokeRequest;
import gale.runtime.InvokeResult;
import gale.runtime.Isolation;
import gale.runtime.RuntimeContext;
import gale.runtime.python.PythonRuntime;
import gale.runtime.python.ZygoteBudget;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The Kubernetes runtime against fabric8's kubernetes-server-mock in CRUD mode: Gale creates and
 * deletes real pod objects, and {@link FakeKubelet} runs each pod's command as a local process
 * that joins Gale over TCP, so calls go through the whole path; tests set the statuses a real
 * kubelet reports (Pending, ImagePullBackOff, OOMKilled).
 */
@EnableKubernetesMockClient(crud = true)
class KubernetesRuntimeTest {

    private static final String NAMESPACE = "gale-fns";
    private static final String HANDLER = """
            import os, sys
            print("loading hello")
            def handler(event, context):
                print("called with", event.get("queryStringParameters"))
                return {"pid": os.getpid(), "cwd": os.getcwd(), "token": os.environ.get("GALE_STATE_TOKEN"),
                        "greeting": os.environ.get("GREETING"), "nonce_visible": "GALE_INSTANCE_NONCE" in os.environ}
            """;

    KubernetesMockServer server;
    KubernetesClient client;
    @TempDir
    Path tmp;
    private InstanceListener listener;
    private final List<String> logs = new CopyOnWriteArrayList<>();
    private KubernetesRuntime runtime;
    private FakeKubelet kubelet;

    @BeforeEach
    void start() {
        listener = InstanceListener.open(tmp.resolve("run").resolve("instances.sock"));
        kubelet = new FakeKubelet(client, NAMESPACE, tmp.resolve("pods"), FakeKubelet.repositoryPython()).start();
    }

    @AfterEach
    void stop() {
        if (runtime != null) runtime.close();
        kubelet.close();
        listener.close();
    }

    private KubernetesRuntime startRuntime(KubernetesSettings settings) {
        var context = new RuntimeContext(settings.node(), tmp.resolve("runtime"), tmp.resolve("scratch"), listener,
                (instance, requestId, stream, line) -> logs.add(instance.id() + " " + stream + ": " + line), Isolation.none(),
                spec -> Map.of("GALE_STATE_TOKEN", "state-token-of-" + spec.function(), "GALE_STATE_URL", "http://10.0.0.5:8080"));
        var python = new PythonRuntime(context, FakeKubelet.PYTHON, Optional.empty(), Optional.empty(), ZygoteBudget.defaults(), false, false);
        runtime = new KubernetesRuntime(context, python, client, settings);
        runtime.start();
        return runtime;
    }

    private KubernetesRuntime startRuntime() {
        return startRuntime(settings(Duration.ofSeconds(60)));
    }

    private static KubernetesSettings settings(Duration podStartTimeout) {
        return new KubernetesSettings(NAMESPACE, "registry.example/gale-function:test", "127.0.0.1", 0, "gale-node-a",
                Optional.of(new KubernetesSettings.OwnerPod("gale-node-a", "1d5c0b3e-0000-4000-8000-000000000001")), podStartTimeout);
    }

    private InstanceSpec deploy(String name, Map<String, ?> flags) throws Exception {
        Path bundle = Files.createDirectories(tmp.resolve("versions").resolve(name).resolve("bundle"));
        Files.writeString(bundle.resolve("main.py"), HANDLER, StandardCharsets.UTF_8);
        var config = ConfigResolver.resolve(name, bundle, flags);
        return new InstanceSpec(name, 1, config, bundle, runtime.prepare(bundle, bundle.getParent()));
    }

    private InstanceSpec deploy(String name) throws Exception {
        return deploy(name, Map.of("entryPoint", "handler", "env", Map.of("GREETING", "hi")));
    }

    private static InvokeResult call(Instance instance) {
        return instance.invoke(new InvokeRequest("req-1", "GET", "/", "who=tcp", List.of(), new byte[0], "10.0.0.7", "http",
                "gale:8080", Instant.now().plusSeconds(30)));
    }

    private Pod onlyPod() {
        await().atMost(Duration.ofSeconds(30)).until(() -> kubelet.pods().size() == 1);
        return kubelet.pods().getFirst();
    }

    private static InstanceFailure failureOf(Instance instance) throws Exception {
        return instance.terminated().get(30, TimeUnit.SECONDS);
    }

    @Test
    void anInstanceIsAPodWhoseBootstrapJoinsOverTcpAndServesACall() throws Exception {
        startRuntime();
        InstanceSpec spec = deploy("hello");
        Instance instance = runtime.start(spec);

        assertThat(instance.ready().get(30, TimeUnit.SECONDS)).isEqualTo("event");
        var result = call(instance);

        assertThat(result).isInstanceOf(InvokeResult.Response.class);
        String body = new String(((InvokeResult.Response) result).body(), StandardCharsets.UTF_8);
        assertThat(body).contains("\"greeting\": \"hi\"", "\"token\": \"state-token-of-hello\"", "\"nonce_visible\": false")
                .contains("/pods/" + PodManifests.podName(instance.id()) + "/task");
        assertThat(logs).contains(instance.id() + " stdout: loading hello", instance.id() + " stdout: called with {'who': 'tcp'}");
        assertThat(instance.memoryLimitEnforced()).as("the kubelet enforces the memory limit").isTrue();
        assertThat(instance.toString()).contains("pod " + PodManifests.podName(instance.id()));
    }

    @Test
    void whatTheContainerWritesToItsStdoutAndStderrReachesTheLogsTaggedPod() throws Exception {
        startRuntime();
        kubelet.holdPods();
        Instance instance = runtime.start(deploy("hello"));
        String pod = onlyPod().getMetadata().getName();
        // The mock keeps no container logs: it answers the log request as the API server would stream them.
        server.expect().get().withPath("/api/v1/namespaces/" + NAMESPACE + "/pods/" + pod + "/log?pretty=false&container=function&follow=true")
                .andReturn(200, "a C library wrote this\r\nand a subprocess this\n").always();

        kubelet.run(pod);
        instance.ready().get(30, TimeUnit.SECONDS);

        await().atMost(Duration.ofSeconds(30)).until(() -> logs.containsAll(List.of(instance.id() + " pod: a C library wrote this",
                instance.id() + " pod: and a subprocess this")));
    }

    @Test
    void thePodIsLabelledOwnedAndCarriesNoSecretOfTheFunction() throws Exception {
        startRuntime();
        Instance instance = runtime.start(deploy("hello"));
        instance.ready().get(30, TimeUnit.SECONDS);
        Pod pod = onlyPod();

        assertThat(pod.getMetadata().getLabels()).containsEntry(PodManifests.NODE, "gale-node-a").containsEntry(PodManifests.FUNCTION, "hello")
                .containsEntry(PodManifests.VERSION, "1").containsEntry(PodManifests.INSTANCE, instance.id())
                .doesNotContainKey(PodManifests.NETWORK);
        assertThat(pod.getMetadata().getOwnerReferences()).singleElement()
                .satisfies(owner -> assertThat(owner.getName()).isEqualTo("gale-node-a"));
        String spec = pod.getSpec().toString();
        assertThat(spec).doesNotContain("state-token-of-hello", "GREETING", "GALE_STATE_URL");
        assertThat(pod.getSpec().getContainers().getFirst().getEnv()).extracting(e -> e.getName())
                .containsExactlyInAnyOrder("GALE_ADDRESS", "GALE_INSTANCE_ID", "GALE_INSTANCE_NONCE", "PYTHONPATH", "PYTHONUNBUFFERED",
                        "PYTHONDONTWRITEBYTECODE", "HOME");
    }

    @Test
    void theInstanceIsReadyOnlyOnceTheClusterSaysThePodRuns() throws Exception {
        startRuntime();
        kubelet.holdPods();
        Instance instance = runtime.start(deploy("hello"));
        String pod = onlyPod().getMetadata().getName();

        kubelet.waiting(pod, "ContainerCreating", "");
        Thread.sleep(500); // nothing to wait for: the point is that nothing happens
        assertThat(instance.ready()).isNotDone();

        kubelet.run(pod);
        assertThat(instance.ready().get(30, TimeUnit.SECONDS)).isEqualTo("event");
    }

    @Test
    void aPodThatIsNeverScheduledFailsAtTheStartTimeoutSayingWhy() throws Exception {
        startRuntime(settings(Duration.ofSeconds(2)));
        kubelet.holdPods();
        Instance instance = runtime.start(deploy("hello"));
        String pod = onlyPod().getMetadata().getName();
        kubelet.unschedulable(pod, "0/3 nodes are available: 3 Insufficient memory.");

        InstanceFailure failure = failureOf(instance);

        assertThat(failure.kind()).isEqualTo(InstanceFailure.Kind.CRASHED);
        assertThat(failure.message()).isEqualTo("pod " + pod + " did not start within 2s (not scheduled: Unschedulable: 0/3 nodes are "
                + "available: 3 Insufficient memory.); see kubectl describe pod " + pod + " -n " + NAMESPACE);
        assertThatThrownBy(() -> instance.ready().get()).isInstanceOf(ExecutionException.class).cause()
                .isInstanceOf(InstanceFailedException.class);
        await().atMost(Duration.ofSeconds(30)).until(() -> kubelet.pods().isEmpty());
    }

    @Test
    void anImageThatCannotBePulledFailsTheInstanceAtOnceNamingTheImageSetting() throws Exception {
        startRuntime();
        kubelet.holdPods();
        Instance instance = runtime.start(deploy("hello"));
        String pod = onlyPod().getMetadata().getName();

        kubelet.waiting(pod, "ImagePullBackOff", "Back-off pulling image \"registry.example/gale-function:test\"");

        assertThat(failureOf(instance).message()).isEqualTo("pod " + pod + " cannot start its container: ImagePullBackOff: Back-off "
                + "pulling image \"registry.example/gale-function:test\"; check gale server --image and that the cluster can pull it "
                + "(docs/kubernetes.md)");
    }

    @Test
    void anOomKilledPodIsAMemoryFailure() throws Exception {
        startRuntime();
        Instance instance = runtime.start(deploy("hello", Map.of("entryPoint", "handler", "memory", "128MB")));
        instance.ready().get(30, TimeUnit.SECONDS);
        String pod = onlyPod().getMetadata().getName();

        kubelet.oomKill(pod);

        InstanceFailure failure = failureOf(instance);
        assertThat(failure.kind()).isEqualTo(InstanceFailure.Kind.MEMORY);
        assertThat(failure.message()).isEqualTo("memory limit exceeded (128 MB): the kernel killed the container of pod " + pod
                + " (OOMKilled)");
    }

    @Test
    void aPodDeletedByAnotherHandFailsItsInstanceSayingSo() throws Exception {
        startRuntime();
        Instance instance = runtime.start(deploy("hello"));
        instance.ready().get(30, TimeUnit.SECONDS);
        String pod = onlyPod().getMetadata().getName();

        client.pods().inNamespace(NAMESPACE).withName(pod).delete();

        InstanceFailure failure = failureOf(instance);
        assertThat(failure.kind()).isEqualTo(InstanceFailure.Kind.CRASHED);
        assertThat(failure.message()).contains("pod " + pod);
    }

    @Test
    void aPodWithTheWrongSecretIsRefusedAndItsInstanceFailsWithWhatThePodSaid() throws Exception {
        startRuntime();
        kubelet.changeEnvironment(env -> {
            env.put("GALE_INSTANCE_NONCE", "0".repeat(32));
            return env;
        });
        Instance instance = runtime.start(deploy("hello"));
        String pod = onlyPod().getMetadata().getName();

        InstanceFailure failure = failureOf(instance);

        assertThat(failure.message()).isEqualTo("pod " + pod + ": instance exited with code 1 (it said: gale: Gale closed the "
                + "connection before sending SETUP; does it expect this instance (a wrong secret, or the instance was given up)? "
                + "See Gale's log)");
    }

    @Test
    void aPodThatRunsButNeverJoinsFailsAtTheStartTimeoutSayingWhatToCheck() throws Exception {
        startRuntime(settings(Duration.ofSeconds(2)));
        try (var silent = new java.net.ServerSocket(0, 10, java.net.InetAddress.getLoopbackAddress())) {
            // A port that accepts and then says nothing: the pod waits for a CHALLENGE that never comes.
            kubelet.changeEnvironment(env -> {
                env.put("GALE_ADDRESS", "127.0.0.1:" + silent.getLocalPort());
                return env;
            });
            Instance instance = runtime.start(deploy("hello"));
            String pod = onlyPod().getMetadata().getName();

            InstanceFailure failure = failureOf(instance);

            assertThat(failure.message()).matches("pod " + pod + " runs but did not connect to Gale at 127\\.0\\.0\\.1:\\d+ within 2s; "
                    + "can pods reach this node's instance port \\(a NetworkPolicy, --advertise-address\\)\\?");
        }
    }

    @Test
    void aPodTheClusterRefusesFailsTheStartWithTheClustersReason() throws Exception {
        startRuntime();
        InstanceSpec spec = deploy("hello");
        server.expect().post().withPath("/api/v1/namespaces/" + NAMESPACE + "/pods")
                .andReturn(403, new io.fabric8.kubernetes.api.model.StatusBuilder().withCode(403).withReason("Forbidden")
                        .withMessage("pods is forbidden: User \"system:serviceaccount:gale-fns:gale\" cannot create resource \"pods\"")
                        .build()).once();

        assertThatThrownBy(() -> runtime.start(spec)).isInstanceOf(IllegalStateException.class)
                .hasMessage("cannot create a pod for hello v1 in namespace gale-fns: 403 pods is forbidden: User "
                        + "\"system:serviceaccount:gale-fns:gale\" cannot create resource \"pods\"");
    }

    @Test
    void stoppingAnInstanceDeletesItsPod() throws Exception {
        startRuntime();
        Instance instance = runtime.start(deploy("hello"));
        instance.ready().get(30, TimeUnit.SECONDS);
        String pod = onlyPod().getMetadata().getName();

        instance.stop(Duration.ofSeconds(5));

        assertThat(failureOf(instance).kind()).isEqualTo(InstanceFailure.Kind.STOPPED);
        await().atMost(Duration.ofSeconds(30)).until(() -> kubelet.pods().isEmpty());
        await().atMost(Duration.ofSeconds(30)).until(() -> !kubelet.isRunning(pod));
    }

    @Test
    void aPoolScalesPodsUpWithDemandAndDownToZeroWhenIdle() throws Exception {
        startRuntime();
        InstanceSpec spec = deploy("hello", Map.of("entryPoint", "handler", "idleTimeout", "1s", "maxInstances", 3));
        try (var pool = new InstancePool(spec, runtime::start)) {
            var first = pool.acquire(Instant.now().plusSeconds(30));
            var second = pool.acquire(Instant.now().plusSeconds(30));
            assertThat(first.instance().id()).isNotEqualTo(second.instance().id());
            assertThat(kubelet.pods()).hasSize(2);
            first.close();
            second.close();

            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200)).until(() -> {
                pool.maintain();
                return kubelet.pods().isEmpty();
            });
        }
    }

    @Test
    void aRestartDeletesThePodsAndPoliciesTheLastRunOfThisNodeLeftAndNoOtherNodes() {
        client.pods().inNamespace(NAMESPACE).resource(leftover("gale-hello-1-1a2b", "gale-node-a")).create();
        client.pods().inNamespace(NAMESPACE).resource(leftover("gale-hello-1-3c4d", "gale-node-b")).create();
        client.network().v1().networkPolicies().inNamespace(NAMESPACE)
                .resource(PodManifests.noNetworkPolicy(settings(Duration.ofSeconds(60)), 7070)).create();

        startRuntime();

        assertThat(kubelet.pods()).extracting(p -> p.getMetadata().getName()).containsExactly("gale-hello-1-3c4d");
        assertThat(client.network().v1().networkPolicies().inNamespace(NAMESPACE).list().getItems()).isEmpty();
    }

    @Test
    void networkNonePodsAreLabelledAndFencedByAPolicyMadeBeforeTheFirstOfThem() throws Exception {
        startRuntime();
        kubelet.holdPods();
        runtime.start(deploy("offline", Map.of("entryPoint", "handler", "network", "none")));

        Pod pod = onlyPod();
        assertThat(pod.getMetadata().getLabels()).containsEntry(PodManifests.NETWORK, "none");
        NetworkPolicy policy = client.network().v1().networkPolicies().inNamespace(NAMESPACE)
                .withName("gale-gale-node-a-no-network").get();
        assertThat(policy).isNotNull();
        assertThat(policy.getSpec().getPodSelector().getMatchLabels()).containsEntry(PodManifests.NETWORK, "none")
                .containsEntry(PodManifests.NODE, "gale-node-a");
        assertThat(policy.getSpec().getPolicyTypes()).containsExactlyInAnyOrder("Ingress", "Egress");
        assertThat(policy.getSpec().getIngress()).isEmpty();
        var egress = policy.getSpec().getEgress().getFirst();
        assertThat(egress.getTo().getFirst().getIpBlock().getCidr()).isEqualTo("127.0.0.1/32");
        assertThat(egress.getPorts().getFirst().getPort().getIntVal()).isPositive();
    }

    @Test
    void networkNoneIsRefusedAtDeployWhenPodsReachGaleByAHostName() throws Exception {
        startRuntime(new KubernetesSettings(NAMESPACE, "img", "gale.gale.svc.cluster.local", 0, "gale-node-a", Optional.empty(),
                Duration.ofSeconds(60)));
        var config = ConfigResolver.fromMap("offline", Map.of("network", "none"));

        assertThatThrownBy(() -> runtime.checkIsolation(config)).isInstanceOf(DeployFailure.class)
                .hasMessageStartingWith("--network none needs Gale's --advertise-address to be an IP address");
    }

    private static Pod leftover(String name, String node) {
        return new PodBuilder().withNewMetadata().withName(name).withNamespace(NAMESPACE)
                .withLabels(Map.of(PodManifests.NODE, node, PodManifests.MANAGED_BY, "gale")).endMetadata()
                .withNewSpec().addNewContainer().withName(PodManifests.CONTAINER).withImage("img").endContainer().endSpec().build();
    }
}
