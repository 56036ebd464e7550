package gale.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import gale.kubernetes.KubernetesSettings;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesList;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * deploy/kubernetes/ read as a cluster would read it: the node's Deployment gives `gale server`
 * what it needs to run instances as pods, and the node may manage pods in its namespace and no more.
 * (No cluster here: what an API server and a kubelet make of them is untested; docs/kubernetes.md.)
 */
class KubernetesManifestsTest {

    private static final Path DEPLOY = Path.of("").toAbsolutePath().getParent().resolve("deploy").resolve("kubernetes");
    private static final KubernetesSerialization YAML = new KubernetesSerialization();

    private static List<HasMetadata> objects() throws IOException {
        List<HasMetadata> all = new ArrayList<>();
        try (Stream<Path> files = Files.list(DEPLOY)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".yaml") && !f.endsWith("kustomization.yaml")).sorted().toList()) {
                Object parsed = YAML.unmarshal(Files.readString(file, UTF_8));
                if (parsed instanceof KubernetesList list) all.addAll(list.getItems());
                else if (parsed instanceof List<?> list) list.forEach(o -> all.add((HasMetadata) o));
                else all.add((HasMetadata) parsed);
            }
        }
        return all;
    }

    private static <T> T only(Class<T> kind) throws IOException {
        List<T> found = objects().stream().filter(kind::isInstance).map(kind::cast).toList();
        assertThat(found).as(kind.getSimpleName()).hasSize(1);
        return found.getFirst();
    }

    private static Container gale() throws IOException {
        return only(Deployment.class).getSpec().getTemplate().getSpec().getContainers().getFirst();
    }

    @Test
    void theDeploymentsEnvironmentStartsGaleWithInstancesAsPodsOfItsOwnPod() throws IOException {
        // What the downward API fills in, as a kubelet would.
        Map<String, String> fieldValues = Map.of("metadata.namespace", "gale", "metadata.name", "gale-7d9f8b6c5-x2x4z",
                "metadata.uid", "2f1c0b3e-0000-4000-8000-000000000001", "status.podIP", "10.42.0.17");
        Map<String, String> env = new HashMap<>();
        for (EnvVar v : gale().getEnv()) {
            if (v.getValue() != null) env.put(v.getName(), v.getValue());
            else if (v.getValueFrom().getFieldRef() != null) env.put(v.getName(), fieldValues.get(v.getValueFrom().getFieldRef().getFieldPath()));
        }

        var parsed = ServerOptionsTest.config(env, gale().getArgs().toArray(String[]::new));

        assertThat(parsed.kubernetes()).contains(new KubernetesSettings("gale", "registry.example/gale-function:0.1.0", "10.42.0.17", 7070,
                "gale-7d9f8b6c5-x2x4z", java.util.Optional.of(new KubernetesSettings.OwnerPod("gale-7d9f8b6c5-x2x4z",
                "2f1c0b3e-0000-4000-8000-000000000001")), KubernetesSettings.DEFAULT_POD_START_TIMEOUT));
        assertThat(parsed.host()).as("pods reach gale.state on the node's HTTP port").isEqualTo("0.0.0.0");
        assertThat(gale().getEnv()).filteredOn(v -> v.getName().equals("GALE_STORE")).singleElement()
                .satisfies(v -> assertThat(v.getValueFrom().getSecretKeyRef().getName()).isEqualTo("gale"));
    }

    @Test
    void oneNodeAtATimeWhoseInstancePortNoServiceExposes() throws IOException {
        var deployment = only(Deployment.class);
        Service service = objects().stream().filter(o -> o instanceof Service s && "gale".equals(s.getMetadata().getName()))
                .map(Service.class::cast).findFirst().orElseThrow();

        assertThat(deployment.getSpec().getReplicas()).isEqualTo(1);
        assertThat(deployment.getSpec().getStrategy().getType()).isEqualTo("Recreate");
        assertThat(gale().getPorts()).extracting(p -> p.getContainerPort()).contains(8080, 7070);
        assertThat(service.getSpec().getPorts()).extracting(p -> p.getTargetPort().getStrVal()).containsExactly("http");
    }

    @Test
    void theNodeRunsAsTheRestrictedStandardAsksLikeItsPods() throws IOException {
        var pod = only(Deployment.class).getSpec().getTemplate().getSpec();
        var container = gale().getSecurityContext();

        assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
        assertThat(pod.getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
        assertThat(container.getAllowPrivilegeEscalation()).isFalse();
        assertThat(container.getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(pod.getServiceAccountName()).isEqualTo("gale");
    }

    @Test
    void theNodeMayManagePodsTheirLogsAndNetworkPoliciesInItsNamespaceAndNothingElse() throws IOException {
        assertThat(objects()).extracting(HasMetadata::getKind).doesNotContain("ClusterRole", "ClusterRoleBinding");
        Role role = only(Role.class);
        RoleBinding binding = only(RoleBinding.class);

        assertThat(role.getRules()).flatExtracting(PolicyRule::getResources).containsExactlyInAnyOrder("pods", "pods/log", "networkpolicies");
        assertThat(role.getRules()).flatExtracting(PolicyRule::getVerbs).doesNotContain("*", "escalate", "bind", "impersonate");
        assertThat(binding.getRoleRef().getKind()).isEqualTo("Role");
        assertThat(binding.getSubjects()).singleElement().satisfies(s -> assertThat(s.getName()).isEqualTo("gale"));
    }

    @Test
    void theKustomizationAppliesEveryManifestButTheSecretsExample() throws IOException {
        String kustomization = Files.readString(DEPLOY.resolve("kustomization.yaml"), UTF_8);
        try (Stream<Path> files = Files.list(DEPLOY)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".yaml")).toList()) {
                String name = file.getFileName().toString();
                if (name.equals("kustomization.yaml")) continue;
                if (name.equals("secret.yaml")) assertThat(kustomization).doesNotContain("- secret.yaml");
                else assertThat(kustomization).as(name).contains("- " + name);
            }
        }
    }
}
