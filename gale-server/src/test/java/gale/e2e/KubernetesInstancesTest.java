package gale.e2e;

import gale.client.Version;
import gale.kubernetes.FakeKubelet;
import gale.kubernetes.KubernetesSettings;
import gale.kubernetes.PodManifests;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static gale.e2e.GaleHarness.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A Gale node whose instances are pods ({@code gale server --instances kubernetes}), against
 * kubernetes-server-mock in CRUD mode: deploys and calls go over HTTP through the gateway, the
 * pool and the Kubernetes runtime, to pods that {@link FakeKubelet} runs as local processes that
 * join the node over TCP. Gale's fabric8 client configures itself as it would in a real setup
 * (here from the system properties fabric8 reads, pointing at the mock).
 */
@EnableKubernetesMockClient(crud = true)
class KubernetesInstancesTest {

    private static final String NAMESPACE = "gale-fns";
    private static final String NODE = "gale-e2e";
    private static final List<String> CLIENT_PROPERTIES = List.of(Config.KUBERNETES_MASTER_SYSTEM_PROPERTY,
            Config.KUBERNETES_TRUST_CERT_SYSTEM_PROPERTY, Config.KUBERNETES_AUTH_TRYKUBECONFIG_SYSTEM_PROPERTY,
            Config.KUBERNETES_AUTH_TRYSERVICEACCOUNT_SYSTEM_PROPERTY);
    private static final String HELLO = """
            import os
            from gale import state

            def hello(request):
                print("greeting", request.args.get("name"))
                return {"greeting": "hello " + request.args.get("name", "world"), "pid": os.getpid(),
                        "visits": state.increment("visits"), "secret": os.environ.get("API_KEY")}
            """;

    static KubernetesMockServer server;
    static KubernetesClient client;
    @TempDir
    static Path tmp;
    static FakeKubelet kubelet;
    static GaleHarness gale;

    @BeforeAll
    static void start() {
        System.setProperty(Config.KUBERNETES_MASTER_SYSTEM_PROPERTY, client.getMasterUrl().toString());
        System.setProperty(Config.KUBERNETES_TRUST_CERT_SYSTEM_PROPERTY, "true");
        System.setProperty(Config.KUBERNETES_AUTH_TRYKUBECONFIG_SYSTEM_PROPERTY, "false");
        System.setProperty(Config.KUBERNETES_AUTH_TRYSERVICEACCOUNT_SYSTEM_PROPERTY, "false");
        kubelet = new FakeKubelet(client, NAMESPACE, tmp.resolve("pods"), FakeKubelet.repositoryPython()).start();
        var settings = new KubernetesSettings(NAMESPACE, "registry.example/gale-function:test", "127.0.0.1", 0, NODE, Optional.empty(),
                Duration.ofSeconds(60));
        gale = new GaleHarness(tmp, config -> config.withKubernetes(settings));
    }

    @AfterAll
    static void stop() {
        try {
            if (gale != null) gale.close();
            if (kubelet != null) kubelet.close();
        } finally {
            CLIENT_PROPERTIES.forEach(System::clearProperty);
        }
    }

    private static List<Pod> podsOf(String function) {
        return kubelet.pods().stream().filter(p -> function.equals(p.getMetadata().getLabels().get(PodManifests.FUNCTION))).toList();
    }

    @Test
    void aCallGoesThroughThePodAndItsPrintsStateAndSecretsWorkAsLocally() {
        gale.client.secretSet("api-key", "s3cret-value".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        gale.deployActive("hello", gale.bundle("hello", "main.py", HELLO));
        gale.client.secretGrant("api-key", "hello", "API_KEY");
        gale.deployActive("hello", gale.bundle("hello", "main.py", HELLO)); // a new version: its pods get the secret

        var first = gale.get("hello", "?name=pod");
        var second = gale.get("hello", "?name=pod");

        assertThat(first.statusCode()).as(text(first)).isEqualTo(200);
        assertThat(text(first)).contains("\"greeting\":\"hello pod\"", "\"visits\":1", "\"secret\":\"s3cret-value\"");
        assertThat(text(second)).contains("\"visits\":2");
        assertThat(podsOf("hello")).isNotEmpty().allSatisfy(pod -> {
            assertThat(pod.getMetadata().getLabels()).containsEntry(PodManifests.NODE, NODE).containsEntry(PodManifests.VERSION, "2");
            String spec = pod.toString();
            assertThat(spec).doesNotContain(gale.server.adminToken(), "s3cret-value", "GALE_STATE_TOKEN");
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> gale.client.logs("hello", 0, 100, 0).entries().stream()
                .anyMatch(e -> e.message().equals("greeting pod")));
    }

    @Test
    void anIdleFunctionScalesToZeroPodsAndBackOnTheNextCall() {
        gale.deployActive("sleepy", gale.bundle("sleepy", "main.py", HELLO.replace("def hello", "def sleepy")), "idleTimeout", "1s");
        assertThat(gale.get("sleepy", "?name=a").statusCode()).isEqualTo(200);

        await().atMost(Duration.ofSeconds(30)).until(() -> podsOf("sleepy").isEmpty());

        var again = gale.get("sleepy", "?name=b");
        assertThat(again.statusCode()).isEqualTo(200);
        assertThat(again.headers().firstValue("X-Gale-Cold-Start")).hasValue("true");
        assertThat(podsOf("sleepy")).hasSize(1);
    }

    @Test
    void aRuntimeThatDoesNotRunInPodsFailsItsDeploySayingWhichDo() {
        Version v = gale.deploy("plots", gale.bundle("plots", "serve.sh", "exit 1"), "runtime", "process", "command", "sh serve.sh");

        assertThat(v.state().name()).isEqualTo("FAILED");
        assertThat(v.reason()).hasValue("runtime 'process' is not available on this server; available: python3");
    }

    @Test
    void aRestartedNodeDeletesThePodsItsLastRunLeftAndServesAgain() {
        gale.deployActive("again", gale.bundle("again", "main.py", HELLO.replace("def hello", "def again")), "minInstances", 1);
        gale.server.close();
        // As if the node had been killed with its pods still running: one is left labelled with the node.
        client.pods().inNamespace(NAMESPACE).resource(new PodBuilder().withNewMetadata().withName("gale-again-1-dead")
                .withLabels(Map.of(PodManifests.NODE, NODE)).endMetadata()
                .withNewSpec().addNewContainer().withName("function").withImage("img").endContainer().endSpec().build()).create();

        gale.start();

        assertThat(kubelet.pods()).extracting(p -> p.getMetadata().getName()).doesNotContain("gale-again-1-dead");
        assertThat(gale.get("again", "?name=back").statusCode()).isEqualTo(200);
    }
}
