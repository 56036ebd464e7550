package gale.kubernetes;

import gale.runtime.InstanceFailure;
import gale.runtime.SocketInstance;
import io.fabric8.kubernetes.api.model.ContainerState;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStateWaiting;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodStatus;

import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What the cluster says of an instance's pod, in Gale's terms: still on its way (and why), running,
 * or ended with an {@link InstanceFailure} that names the pod and the cause: the kernel's OOM killer
 * is a memory failure, an image that cannot be pulled or a container that cannot be made is a
 * failure to start, anything else how the container exited.
 */
sealed interface PodState {

    /** Not running yet: being scheduled, pulling its image, creating its container. */
    record Waiting(String why) implements PodState {
    }

    record Running() implements PodState {
    }

    record Ended(InstanceFailure failure) implements PodState {
    }

    /**
     * Waiting reasons the kubelet does not get over by itself, or not soon: the instance fails at once rather
     * than at the start timeout. (ErrImagePull is retried, and becomes ImagePullBackOff if it keeps failing.)
     */
    Set<String> CANNOT_START = Set.of("ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError",
            "CreateContainerError", "RunContainerError", "CrashLoopBackOff");

    /** The state of {@code pod}, whose memory limit is {@code memoryMegabytes}. */
    static PodState of(Pod pod, long memoryMegabytes) {
        String name = pod.getMetadata().getName();
        PodStatus status = pod.getStatus();
        if (status == null) return new Waiting("not scheduled yet");
        Optional<ContainerState> container = functionContainer(status).map(ContainerStatus::getState);
        Optional<ContainerStateTerminated> terminated = container.map(ContainerState::getTerminated);
        if (terminated.isPresent()) return new Ended(exited(name, terminated.get(), memoryMegabytes));
        Optional<ContainerStateWaiting> waiting = container.map(ContainerState::getWaiting);
        if (waiting.isPresent() && CANNOT_START.contains(waiting.get().getReason())) {
            return new Ended(new InstanceFailure(InstanceFailure.Kind.CRASHED, "pod " + name + " cannot start its container: "
                    + reasonAndMessage(waiting.get().getReason(), waiting.get().getMessage()) + hint(waiting.get().getReason())));
        }
        String phase = String.valueOf(status.getPhase());
        if (phase.equals("Failed") || phase.equals("Succeeded")) {
            return new Ended(new InstanceFailure(InstanceFailure.Kind.CRASHED, "pod " + name + " ended ("
                    + reasonAndMessage(status.getReason() == null ? phase : status.getReason(), status.getMessage()) + ")"));
        }
        if (phase.equals("Running") && container.map(ContainerState::getRunning).isPresent()) return new Running();
        return new Waiting(describeWaiting(status, waiting));
    }

    private static Optional<ContainerStatus> functionContainer(PodStatus status) {
        List<ContainerStatus> containers = status.getContainerStatuses();
        if (containers == null) return Optional.empty();
        return containers.stream().filter(c -> PodManifests.CONTAINER.equals(c.getName())).findFirst();
    }

    /** How the container ended: OOMKilled is the memory limit (as a local instance's cgroup says it), else its exit code. */
    private static InstanceFailure exited(String pod, ContainerStateTerminated terminated, long memoryMegabytes) {
        if ("OOMKilled".equals(terminated.getReason())) {
            return new InstanceFailure(InstanceFailure.Kind.MEMORY, "memory limit exceeded (" + memoryMegabytes + " MB): the kernel killed "
                    + "the container of pod " + pod + " (OOMKilled)");
        }
        int code = terminated.getExitCode() == null ? -1 : terminated.getExitCode();
        String last = lastLine(terminated.getMessage());
        return new InstanceFailure(InstanceFailure.Kind.CRASHED, "pod " + pod + ": " + SocketInstance.describeExitCode(code)
                + (last.isEmpty() ? "" : " (it said: " + last + ")"));
    }

    private static String describeWaiting(PodStatus status, Optional<ContainerStateWaiting> waiting) {
        if (status.getConditions() != null) {
            for (PodCondition condition : status.getConditions()) {
                if ("PodScheduled".equals(condition.getType()) && "False".equals(condition.getStatus())) {
                    return "not scheduled: " + reasonAndMessage(condition.getReason(), condition.getMessage());
                }
            }
        }
        if (waiting.isPresent()) return "container waiting: " + reasonAndMessage(waiting.get().getReason(), waiting.get().getMessage());
        return "phase " + status.getPhase();
    }

    private static String hint(String reason) {
        return switch (reason) {
            case "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull" ->
                    "; check gale server --image and that the cluster can pull it (docs/kubernetes.md)";
            case "CreateContainerConfigError", "CreateContainerError", "RunContainerError" ->
                    "; kubectl describe pod shows the cluster's side";
            default -> "";
        };
    }

    private static String reasonAndMessage(String reason, String message) {
        String r = reason == null || reason.isBlank() ? "unknown reason" : reason;
        return message == null || message.isBlank() ? r : r + ": " + lastLine(message);
    }

    /** The last line that says something: a termination message holds the last lines the container printed. */
    private static String lastLine(String text) {
        if (text == null) return "";
        String[] lines = text.strip().split("\n");
        return lines.length == 0 ? "" : lines[lines.length - 1].strip();
    }
}
