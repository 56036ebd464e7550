package gale.kubernetes;

import gale.config.ConfigResolver;
import gale.runtime.InstanceSpec;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The pod and NetworkPolicy Gale asks the cluster for, field by field. */
class PodManifestsTest {

    private static final KubernetesSettings SETTINGS = new KubernetesSettings("gale-fns", "registry.example/gale-function:0.1.0",
            "10.1.2.3", 7070, "gale-7d9f8b6c5-x2x4z", Optional.of(new KubernetesSettings.OwnerPod("gale-7d9f8b6c5-x2x4z", "uid-1")),
            Duration.ofMinutes(2));

    private static Pod pod(Map<String, ?> flags) {
        var config = ConfigResolver.fromMap("scorer", flags);
        var spec = new InstanceSpec("scorer", 4, config, Path.of("/data/versions/scorer/4/bundle"), Optional.empty());
        return PodManifests.instancePod(SETTINGS, spec, "scorer-4-1a2b9f", "f00dfeed", "10.1.2.3:7070");
    }

    private static Container container(Pod pod) {
        return pod.getSpec().getContainers().getFirst();
    }

    @Test
    void memoryAndCpuBecomeTheContainersLimitsAndRequests() {
        var resources = container(pod(Map.of("memory", "512MB", "cpu", 0.5))).getResources();

        assertThat(resources.getLimits()).containsEntry("memory", new Quantity("512Mi")).containsEntry("cpu", new Quantity("500m"));
        assertThat(resources.getRequests()).isEqualTo(resources.getLimits());
    }

    @Test
    void theContainerRunsAsTheRestrictedPodSecurityStandardAsks() {
        Pod pod = pod(Map.of());
        var container = container(pod).getSecurityContext();

        assertThat(container.getAllowPrivilegeEscalation()).isFalse();
        assertThat(container.getReadOnlyRootFilesystem()).isTrue();
        assertThat(container.getRunAsNonRoot()).isTrue();
        assertThat(container.getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(container.getCapabilities().getAdd()).isNullOrEmpty();
        assertThat(container.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
        var podContext = pod.getSpec().getSecurityContext();
        assertThat(podContext.getRunAsNonRoot()).isTrue();
        assertThat(podContext.getRunAsUser()).isEqualTo(PodManifests.USER);
        assertThat(podContext.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
    }

    @Test
    void onlyTheWorkFolderAndTmpAreWritableAndTheyAreEmptyDirs() {
        Pod pod = pod(Map.of());

        assertThat(container(pod).getVolumeMounts()).extracting(m -> m.getMountPath()).containsExactly(PodManifests.WORK_DIR, "/tmp");
        assertThat(pod.getSpec().getVolumes()).allSatisfy(v -> assertThat(v.getEmptyDir()).isNotNull());
        assertThat(container(pod).getWorkingDir()).isEqualTo(PodManifests.WORK_DIR);
    }

    @Test
    void theFunctionNeverTalksToTheClusterAndIsNeverRestartedInPlace() {
        var spec = pod(Map.of()).getSpec();

        assertThat(spec.getAutomountServiceAccountToken()).isFalse();
        assertThat(spec.getEnableServiceLinks()).isFalse();
        assertThat(spec.getRestartPolicy()).isEqualTo("Never");
        assertThat(spec.getServiceAccountName()).isNull();
    }

    @Test
    void theEnvironmentSaysOnlyHowToReachGaleAndTheInstancesOwnNonce() {
        var env = container(pod(Map.of("env", Map.of("API_KEY", "s3cret")))).getEnv();

        assertThat(env).extracting(e -> e.getName() + "=" + e.getValue()).containsExactlyInAnyOrder(
                "GALE_ADDRESS=10.1.2.3:7070", "GALE_INSTANCE_ID=scorer-4-1a2b9f", "GALE_INSTANCE_NONCE=f00dfeed",
                "PYTHONPATH=" + PodManifests.PACKAGE_ROOT, "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1", "HOME=/tmp");
    }

    @Test
    void labelsNameTheNodeFunctionVersionAndInstanceAndOwnerIsTheGaleNodesPod() {
        var metadata = pod(Map.of("network", "none")).getMetadata();

        assertThat(metadata.getName()).isEqualTo("gale-scorer-4-1a2b9f");
        assertThat(metadata.getLabels()).containsEntry(PodManifests.NODE, "gale-7d9f8b6c5-x2x4z").containsEntry(PodManifests.FUNCTION, "scorer")
                .containsEntry(PodManifests.VERSION, "4").containsEntry(PodManifests.INSTANCE, "scorer-4-1a2b9f")
                .containsEntry(PodManifests.NETWORK, "none").containsEntry(PodManifests.MANAGED_BY, "gale");
        assertThat(metadata.getOwnerReferences()).singleElement().satisfies(owner -> {
            assertThat(owner.getKind()).isEqualTo("Pod");
            assertThat(owner.getUid()).isEqualTo("uid-1");
        });
    }

    @Test
    void anInstanceIdLongerThanALabelValueIsCutAndHashedSoItStaysUnique() {
        String longId = "a".repeat(63) + "-12-1a2b9f";

        String label = PodManifests.labelValue(longId);

        assertThat(label).hasSizeLessThanOrEqualTo(63).matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
        assertThat(label).isNotEqualTo(PodManifests.labelValue("a".repeat(63) + "-12-3c4d5e"));
        assertThat(PodManifests.labelValue("scorer-4-1a2b9f")).isEqualTo("scorer-4-1a2b9f");
    }

    @Test
    void theNoNetworkPolicyLetsPodsReachOnlyThisNodesInstancePortAndNothingIn() {
        var policy = PodManifests.noNetworkPolicy(SETTINGS, 7070).getSpec();

        assertThat(policy.getPodSelector().getMatchLabels()).containsEntry(PodManifests.NETWORK, "none")
                .containsEntry(PodManifests.NODE, "gale-7d9f8b6c5-x2x4z");
        assertThat(policy.getPolicyTypes()).containsExactlyInAnyOrder("Ingress", "Egress");
        assertThat(policy.getIngress()).isEmpty();
        assertThat(policy.getEgress()).singleElement().satisfies(rule -> {
            assertThat(rule.getTo()).singleElement().satisfies(peer -> assertThat(peer.getIpBlock().getCidr()).isEqualTo("10.1.2.3/32"));
            assertThat(rule.getPorts()).singleElement().satisfies(port -> {
                assertThat(port.getPort().getIntVal()).isEqualTo(7070);
                assertThat(port.getProtocol()).isEqualTo("TCP");
            });
        });
    }

    @Test
    void anIpv6NodeIsNamedByASingleAddressBlockAndDialledInBrackets() {
        var v6 = new KubernetesSettings("gale-fns", "img", "fd00::17", 7070, "node-a", Optional.empty(), null);

        assertThat(PodManifests.noNetworkPolicy(v6, 7070).getSpec().getEgress().getFirst().getTo().getFirst().getIpBlock().getCidr())
                .isEqualTo("fd00::17/128");
        assertThat(v6.address(7070)).isEqualTo("[fd00::17]:7070");
        assertThat(v6.advertisesAnIp()).isTrue();
    }

    @Test
    void settingsThatCannotWorkAreRefusedSayingWhatToSet() {
        assertThatThrownBy(() -> new KubernetesSettings("Gale_Fns", "img", "10.1.2.3", 7070, "n", Optional.empty(), null))
                .hasMessageStartingWith("--namespace must be a Kubernetes namespace name");
        assertThatThrownBy(() -> new KubernetesSettings("gale", " ", "10.1.2.3", 7070, "n", Optional.empty(), null))
                .hasMessageStartingWith("--image must name the function image");
        assertThatThrownBy(() -> new KubernetesSettings("gale", "img", "", 7070, "n", Optional.empty(), null))
                .hasMessageStartingWith("--advertise-address must say where pods reach this node");
        assertThatThrownBy(() -> new KubernetesSettings("gale", "img", "10.1.2.3", 70000, "n", Optional.empty(), null))
                .hasMessage("--instance-port must be 0..65535, got 70000");
        assertThatThrownBy(() -> new KubernetesSettings("gale", "img", "10.1.2.3", 7070, "n", Optional.empty(), Duration.ofMillis(10)))
                .hasMessageStartingWith("--pod-start-timeout must be 1s or more");
        assertThat(new KubernetesSettings("gale", "img", "gale-0.gale", 7070, "n", Optional.empty(), null).advertisesAnIp()).isFalse();
    }
}
