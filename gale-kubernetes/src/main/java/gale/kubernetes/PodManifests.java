package gale.kubernetes;

import gale.config.FunctionConfig;
import gale.runtime.InstanceSpec;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The objects Gale asks the cluster for: one pod per instance, and the NetworkPolicy that keeps
 * {@code --network none} pods off the network but for their connection to this node.
 *
 * <p>A pod's spec names no secret of the function: it carries only how to reach Gale and the
 * instance's own one-use nonce. The function's environment (its variables, secrets and state
 * token) and its files travel over the instance's connection once it has proved its nonce
 * (docs/protocol.md, "Over TCP"), so whoever may read pods reads none of them.
 *
 * <p>Every pod runs as the "restricted" Pod Security Standard asks: not as root, no privilege
 * escalation, no capabilities, the runtime's default seccomp profile, and a read-only root
 * filesystem with two empty writable folders: {@value #WORK_DIR} (the bundle and packages arrive
 * there) and /tmp. It gets no service account token and no service links: a function never
 * talks to the cluster.
 */
public final class PodManifests {

    public static final String MANAGED_BY = "app.kubernetes.io/managed-by";
    public static final String NODE = "gale.dev/node";
    public static final String FUNCTION = "gale.dev/function";
    public static final String VERSION = "gale.dev/version";
    public static final String INSTANCE = "gale.dev/instance";
    public static final String NETWORK = "gale.dev/network";
    /** The instance id in full: a label value is cut to 63 characters. */
    public static final String INSTANCE_ANNOTATION = "gale.dev/instance-id";
    public static final String CONTAINER = "function";
    /** The pod's working folder (an emptyDir): the bundle is unpacked into task/ below it, packages into packages/. */
    public static final String WORK_DIR = "/var/gale";
    /** Where the function image keeps Gale's Python package (deploy/kubernetes/function-image/Dockerfile). */
    public static final String PACKAGE_ROOT = "/opt/gale/python";
    /** The function image's user: not root, and the owner of the pod's writable folders. */
    public static final long USER = 10001;
    private static final int MAX_LABEL = 63;
    /** A pod asked to stop gets SIGTERM and this long to finish before SIGKILL; Gale has drained its calls already. */
    private static final long TERMINATION_GRACE_SECONDS = 10;

    private PodManifests() {
    }

    /** The pod's name for an instance id: ids are DNS-safe already (function names are, the rest is hex and digits). */
    public static String podName(String instanceId) {
        return "gale-" + instanceId;
    }

    /** The NetworkPolicy of this node's {@code --network none} pods. */
    public static String noNetworkPolicyName(KubernetesSettings settings) {
        return "gale-" + settings.node() + "-no-network";
    }

    /**
     * The pod of one instance.
     *
     * @param galeAddress host:port pods connect to (this node's instance port)
     */
    public static Pod instancePod(KubernetesSettings settings, InstanceSpec spec, String instanceId, String nonce, String galeAddress) {
        FunctionConfig config = spec.config();
        Map<String, String> labels = labels(settings);
        labels.put(FUNCTION, spec.function());
        labels.put(VERSION, Integer.toString(spec.version()));
        labels.put(INSTANCE, labelValue(instanceId));
        if (noNetwork(config)) labels.put(NETWORK, "none");
        Map<String, Quantity> limits = Map.of(
                "memory", new Quantity(config.memory().megabytes() + "Mi"),
                "cpu", new Quantity(Math.max(1, Math.round(config.cpu() * 1000)) + "m"));
        var container = new ContainerBuilder()
                .withName(CONTAINER)
                .withImage(settings.image())
                .withImagePullPolicy("IfNotPresent")
                .withCommand("python3", "-m", "gale._remote")
                .withWorkingDir(WORK_DIR)
                .withEnv(environment(instanceId, nonce, galeAddress))
                // Requests as the limits: the memory is the pod's for sure, and --cpu is its share when CPUs are contended.
                .withNewResources().withLimits(limits).withRequests(limits).endResources()
                .withNewSecurityContext()
                    .withAllowPrivilegeEscalation(false)
                    .withReadOnlyRootFilesystem(true)
                    .withRunAsNonRoot(true)
                    .withNewCapabilities().withDrop("ALL").endCapabilities()
                    .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile()
                .endSecurityContext()
                .addNewVolumeMount().withName("work").withMountPath(WORK_DIR).endVolumeMount()
                .addNewVolumeMount().withName("tmp").withMountPath("/tmp").endVolumeMount()
                // A pod that dies before it connects says why in its status: the last lines it printed.
                .withTerminationMessagePolicy("FallbackToLogsOnError")
                .build();
        return new PodBuilder()
                .withNewMetadata()
                    .withName(podName(instanceId))
                    .withNamespace(settings.namespace())
                    .withLabels(labels)
                    .withAnnotations(Map.of(INSTANCE_ANNOTATION, instanceId))
                    .withOwnerReferences(owners(settings))
                .endMetadata()
                .withNewSpec()
                    .withRestartPolicy("Never") // a crashed instance is replaced by the pool, never restarted in place
                    .withAutomountServiceAccountToken(false)
                    .withEnableServiceLinks(false)
                    .withTerminationGracePeriodSeconds(TERMINATION_GRACE_SECONDS)
                    .withNewSecurityContext()
                        .withRunAsNonRoot(true)
                        .withRunAsUser(USER)
                        .withRunAsGroup(USER)
                        .withFsGroup(USER)
                        .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile()
                    .endSecurityContext()
                    .withContainers(container)
                    .addNewVolume().withName("work").withNewEmptyDir().endEmptyDir().endVolume()
                    .addNewVolume().withName("tmp").withNewEmptyDir().endEmptyDir().endVolume()
                .endSpec()
                .build();
    }

    /**
     * Keeps this node's {@code --network none} pods off the network: no connection in, and out only
     * to this node's instance port, at its IP (so no name lookup is needed, or allowed).
     */
    public static NetworkPolicy noNetworkPolicy(KubernetesSettings settings, int instancePort) {
        Map<String, String> selected = labels(settings);
        selected.put(NETWORK, "none");
        String host = settings.advertiseHost().replace("[", "").replace("]", "");
        String cidr = host + (host.contains(":") ? "/128" : "/32");
        return new NetworkPolicyBuilder()
                .withNewMetadata()
                    .withName(noNetworkPolicyName(settings))
                    .withNamespace(settings.namespace())
                    .withLabels(labels(settings))
                    .withOwnerReferences(owners(settings))
                .endMetadata()
                .withNewSpec()
                    .withNewPodSelector().withMatchLabels(selected).endPodSelector()
                    .withPolicyTypes("Ingress", "Egress") // no ingress rule: nothing may connect in
                    .addNewEgress()
                        .addNewTo().withNewIpBlock().withCidr(cidr).endIpBlock().endTo()
                        .addNewPort().withProtocol("TCP").withNewPort(instancePort).endPort()
                    .endEgress()
                .endSpec()
                .build();
    }

    /** The labels every object of this node carries: how a restart of the node finds what it left. */
    static Map<String, String> labels(KubernetesSettings settings) {
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put(MANAGED_BY, "gale");
        labels.put(NODE, settings.node());
        return labels;
    }

    static boolean noNetwork(FunctionConfig config) {
        return config.network().equals("none");
    }

    /**
     * The variables the pod starts with: how to reach Gale, and the nonce it proves itself with;
     * its image sets the rest (PATH, PYTHONPATH). Everything of the function comes over the connection.
     */
    private static List<EnvVar> environment(String instanceId, String nonce, String galeAddress) {
        List<EnvVar> env = new ArrayList<>();
        env.add(new EnvVar("GALE_ADDRESS", galeAddress, null));
        env.add(new EnvVar("GALE_INSTANCE_ID", instanceId, null));
        env.add(new EnvVar("GALE_INSTANCE_NONCE", nonce, null));
        env.add(new EnvVar("PYTHONPATH", PACKAGE_ROOT, null));
        env.add(new EnvVar("PYTHONUNBUFFERED", "1", null));
        env.add(new EnvVar("PYTHONDONTWRITEBYTECODE", "1", null));
        env.add(new EnvVar("HOME", "/tmp", null));
        return env;
    }

    private static List<OwnerReference> owners(KubernetesSettings settings) {
        return settings.owner().map(owner -> List.of(new OwnerReferenceBuilder()
                .withApiVersion("v1").withKind("Pod").withName(owner.name()).withUid(owner.uid())
                .withBlockOwnerDeletion(false).withController(false).build())).orElse(List.of());
    }

    /** {@code value} as a label value: itself when it fits in 63 characters, else its start and a hash of the whole. */
    static String labelValue(String value) {
        if (value.length() <= MAX_LABEL) return value;
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8));
            String suffix = HexFormat.of().formatHex(hash, 0, 6);
            return value.substring(0, MAX_LABEL - suffix.length() - 1).replaceAll("[^a-zA-Z0-9]+$", "") + "-" + suffix;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
