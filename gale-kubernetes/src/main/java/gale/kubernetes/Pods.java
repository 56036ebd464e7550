package gale.kubernetes;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.LogWatch;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.OutputStream;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * This node's pods in its namespace, as the cluster's API sees them: creates and deletes them,
 * and passes what one informer hears of each to its {@link PodProcess}. Everything it makes
 * carries the node's label ({@link PodManifests#labels}), so {@link #reapLeftovers} finds what a
 * run of this node that ended without stopping its instances left (Gale's {@code Leftovers} for pods).
 *
 * <p>Life: {@link #reapLeftovers} and {@link #start} once before anything else; {@link #close} once
 * the pools have stopped their instances.
 */
final class Pods implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Pods.class);

    private final KubernetesClient client;
    private final KubernetesSettings settings;
    private final Map<String, PodProcess> watched = new ConcurrentHashMap<>();
    private SharedIndexInformer<Pod> informer;

    Pods(KubernetesClient client, KubernetesSettings settings) {
        this.client = client;
        this.settings = settings;
    }

    /**
     * Deletes the pods and NetworkPolicies that carry this node's label: what the last run left. Call
     * before {@link #start}.
     *
     * @return how many pods were deleted
     */
    int reapLeftovers() {
        int pods = client.pods().inNamespace(settings.namespace()).withLabel(PodManifests.NODE, settings.node()).delete().size();
        client.network().v1().networkPolicies().inNamespace(settings.namespace()).withLabel(PodManifests.NODE, settings.node()).delete();
        if (pods > 0) {
            LOG.warn("the last run of this node ({}) ended without stopping its instances: deleted {} leftover pods in namespace {}",
                    settings.node(), pods, settings.namespace());
        }
        return pods;
    }

    /** Starts hearing what the cluster says of this node's pods. */
    void start() {
        informer = client.pods().inNamespace(settings.namespace()).withLabel(PodManifests.NODE, settings.node())
                .inform(new ResourceEventHandler<>() {
                    @Override
                    public void onAdd(Pod pod) {
                        PodProcess process = watched.get(pod.getMetadata().getName());
                        if (process != null) process.observe(pod);
                    }

                    @Override
                    public void onUpdate(Pod before, Pod pod) {
                        onAdd(pod);
                    }

                    @Override
                    public void onDelete(Pod pod, boolean finalStateUnknown) {
                        PodProcess process = watched.remove(pod.getMetadata().getName());
                        if (process != null) process.deleted();
                    }
                }, 0);
    }

    /**
     * Creates {@code pod}, followed by {@code process} from now on.
     *
     * @throws KubernetesClientException when the cluster refuses it (no right to create pods there, a quota)
     */
    void create(Pod pod, PodProcess process) {
        watched.put(process.name(), process); // before it exists: no event of it is missed
        try {
            client.pods().inNamespace(settings.namespace()).resource(pod).create();
        } catch (KubernetesClientException e) {
            watched.remove(process.name());
            throw e;
        }
    }

    /** Deletes a pod, in the background; the informer then reports it gone. */
    void delete(String name) {
        Thread.startVirtualThread(() -> {
            try {
                client.pods().inNamespace(settings.namespace()).withName(name).delete();
            } catch (KubernetesClientException | IllegalStateException e) { // refused, or the client closed with the node
                LOG.warn("could not delete pod {} in namespace {}: {}; it goes when this node restarts", name, settings.namespace(),
                        e.getMessage());
            }
        });
    }

    /** Follows what the pod's container writes to its stdout and stderr (one stream in the cluster's log), into {@code out}. */
    LogWatch followLog(String name, OutputStream out) {
        return client.pods().inNamespace(settings.namespace()).withName(name).inContainer(PodManifests.CONTAINER).watchLog(out);
    }

    /** Creates the policy, or replaces the one a last run left with the same name. */
    void apply(NetworkPolicy policy) {
        client.network().v1().networkPolicies().inNamespace(settings.namespace()).resource(policy).createOr(existing -> existing.update());
    }

    /** The API server's answer, or why there was none (fabric8's own message names neither). */
    String describe(KubernetesClientException e) {
        if (e.getStatus() != null && e.getStatus().getMessage() != null) return e.getCode() + " " + e.getStatus().getMessage();
        Throwable cause = e;
        while (cause.getCause() != null) cause = cause.getCause();
        return "no answer from the cluster's API at " + client.getMasterUrl() + " (" + cause.getClass().getSimpleName()
                + (cause.getMessage() == null ? "" : ": " + cause.getMessage()) + ")";
    }

    @Override
    public void close() {
        try {
            // The pools stopped every instance; what is left (a pod whose deletion failed, the policy) goes now.
            client.pods().inNamespace(settings.namespace()).withLabel(PodManifests.NODE, settings.node()).delete();
            client.network().v1().networkPolicies().inNamespace(settings.namespace()).withLabel(PodManifests.NODE, settings.node()).delete();
        } catch (KubernetesClientException e) {
            LOG.warn("could not delete this node's pods in namespace {} on the way out: {}; the next start deletes them",
                    settings.namespace(), e.getMessage());
        }
        if (informer != null) informer.stop();
    }
}
