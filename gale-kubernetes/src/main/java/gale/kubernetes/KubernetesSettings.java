package gale.kubernetes;

import java.net.InetAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Where and how a Gale node runs its function instances as pods ({@code gale server --instances
 * kubernetes}). Validated here, once, so the runtime can trust it.
 *
 * @param namespace       the namespace the pods go in; Gale's service account may manage pods there only
 * @param image           the function image: Debian's python3 and Gale's Python package (deploy/kubernetes/function-image)
 * @param advertiseHost   the address pods connect back to: this node's own pod IP (the downward API's
 *                        status.podIP), never a Service, which could lead a pod to another node
 * @param instancePort    the TCP port instances connect to (0 picks a free one: tests)
 * @param node            names this node's pods (label {@value PodManifests#NODE}); the same on every start of
 *                        the node, so a restart finds and deletes what the last run left
 * @param owner           the node's own pod, made the owner of its function pods so the cluster deletes them
 *                        with it; empty outside a cluster
 * @param podStartTimeout how long a pod may take to be scheduled, pull its image, run and connect to Gale before
 *                        its instance fails
 */
public record KubernetesSettings(String namespace, String image, String advertiseHost, int instancePort, String node,
                                 Optional<OwnerPod> owner, Duration podStartTimeout) {

    public static final int DEFAULT_INSTANCE_PORT = 7070;
    /** Time for a first pull of the function image on a new machine, and a few seconds of scheduling. */
    public static final Duration DEFAULT_POD_START_TIMEOUT = Duration.ofMinutes(2);
    /** A DNS-1123 label: what names of namespaces and values of node labels must be. */
    private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
    private static final Pattern IP_LITERAL = Pattern.compile("[0-9.]+|\\[?[0-9a-fA-F:.]*:[0-9a-fA-F:.]*]?");

    /** The Gale node's own pod (from the downward API: metadata.name and metadata.uid). */
    public record OwnerPod(String name, String uid) {
        public OwnerPod {
            if (name == null || name.isBlank() || uid == null || uid.isBlank()) {
                throw new IllegalArgumentException("the owner pod needs both its name and its uid (GALE_K8S_POD_NAME, GALE_K8S_POD_UID)");
            }
        }
    }

    public KubernetesSettings {
        if (namespace == null || !DNS_LABEL.matcher(namespace).matches()) {
            throw new IllegalArgumentException("--namespace must be a Kubernetes namespace name (lowercase letters, digits and '-'), got '"
                    + namespace + "'");
        }
        if (image == null || image.isBlank()) {
            throw new IllegalArgumentException("--image must name the function image pods run, e.g. registry.example/gale-function:0.1.0 "
                    + "(deploy/kubernetes/function-image builds it)");
        }
        if (advertiseHost == null || advertiseHost.isBlank()) {
            throw new IllegalArgumentException("--advertise-address must say where pods reach this node, e.g. its pod IP "
                    + "(GALE_K8S_ADVERTISE_ADDRESS from the downward API's status.podIP)");
        }
        if (instancePort < 0 || instancePort > 65535) throw new IllegalArgumentException("--instance-port must be 0..65535, got " + instancePort);
        if (node == null || !DNS_LABEL.matcher(node).matches()) {
            throw new IllegalArgumentException("the node name must be a DNS label (it labels pods), got '" + node + "'");
        }
        owner = owner == null ? Optional.empty() : owner;
        podStartTimeout = podStartTimeout == null ? DEFAULT_POD_START_TIMEOUT : podStartTimeout;
        if (podStartTimeout.toMillis() < 1000) {
            throw new IllegalArgumentException("--pod-start-timeout must be 1s or more, got " + podStartTimeout);
        }
    }

    /** True when pods reach this node at an IP address, which a NetworkPolicy can name (a host name it cannot). */
    public boolean advertisesAnIp() {
        return IP_LITERAL.matcher(advertiseHost).matches();
    }

    /** True when pods reach this node on the loopback interface: only tests, where the "pods" are local processes. */
    public boolean advertisesLoopback() {
        try {
            return advertisesAnIp() && InetAddress.getByName(advertiseHost.replace("[", "").replace("]", "")).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    /** {@code host:port} as a pod dials it, with brackets around an IPv6 address. */
    public String address(int port) {
        boolean v6 = advertiseHost.contains(":") && !advertiseHost.startsWith("[");
        return (v6 ? "[" + advertiseHost + "]" : advertiseHost) + ":" + port;
    }
}
