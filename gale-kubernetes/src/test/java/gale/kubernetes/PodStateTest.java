package gale.kubernetes;

import gale.runtime.InstanceFailure;
import io.fabric8.kubernetes.api.model.ContainerStateBuilder;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** What the cluster says of a pod, read as Gale's instance states: one rule per test. */
class PodStateTest {

    private static Pod pod(PodStatus status) {
        return new PodBuilder().withNewMetadata().withName("gale-hello-1-1a2b").endMetadata().withStatus(status).build();
    }

    private static PodStatusBuilder container(String phase, ContainerStateBuilder state) {
        return new PodStatusBuilder().withPhase(phase).withContainerStatuses(new ContainerStatusBuilder()
                .withName(PodManifests.CONTAINER).withState(state.build()).build());
    }

    private static InstanceFailure ended(PodStatus status) {
        PodState state = PodState.of(pod(status), 256);
        assertThat(state).isInstanceOf(PodState.Ended.class);
        return ((PodState.Ended) state).failure();
    }

    @Test
    void aPodWithoutStatusIsNotScheduledYet() {
        assertThat(PodState.of(pod(null), 256)).isEqualTo(new PodState.Waiting("not scheduled yet"));
    }

    @Test
    void runningNeedsThePhaseAndTheContainerRunning() {
        assertThat(PodState.of(pod(container("Running", new ContainerStateBuilder().withNewRunning().endRunning()).build()), 256))
                .isEqualTo(new PodState.Running());
        assertThat(PodState.of(pod(new PodStatusBuilder().withPhase("Running").build()), 256)).isInstanceOf(PodState.Waiting.class);
    }

    @Test
    void anUnschedulablePodWaitsSayingWhyTheSchedulerGaveUp() {
        var status = new PodStatusBuilder().withPhase("Pending").withConditions(new PodConditionBuilder().withType("PodScheduled")
                .withStatus("False").withReason("Unschedulable").withMessage("0/3 nodes are available: 3 Insufficient cpu.").build()).build();

        assertThat(PodState.of(pod(status), 256))
                .isEqualTo(new PodState.Waiting("not scheduled: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu."));
    }

    @Test
    void errImagePullIsRetriedByTheKubeletSoItStillWaits() {
        var status = container("Pending", new ContainerStateBuilder().withNewWaiting().withReason("ErrImagePull").withMessage("timeout")
                .endWaiting()).build();

        assertThat(PodState.of(pod(status), 256)).isEqualTo(new PodState.Waiting("container waiting: ErrImagePull: timeout"));
    }

    @Test
    void waitingReasonsTheKubeletDoesNotGetOverEndTheInstance() {
        for (String reason : PodState.CANNOT_START) {
            var status = container("Pending", new ContainerStateBuilder().withNewWaiting().withReason(reason).withMessage("why")
                    .endWaiting()).build();
            assertThat(ended(status).message()).as(reason).startsWith("pod gale-hello-1-1a2b cannot start its container: " + reason + ": why");
        }
    }

    @Test
    void oomKilledIsTheMemoryLimitWhateverTheExitCode() {
        var status = container("Failed", new ContainerStateBuilder().withNewTerminated().withReason("OOMKilled").withExitCode(137)
                .endTerminated()).build();

        InstanceFailure failure = ended(status);
        assertThat(failure.kind()).isEqualTo(InstanceFailure.Kind.MEMORY);
        assertThat(failure.message()).isEqualTo("memory limit exceeded (256 MB): the kernel killed the container of pod gale-hello-1-1a2b "
                + "(OOMKilled)");
    }

    @Test
    void anExitSaysItsCodeOrSignalAndTheLastLineItPrinted() {
        var status = container("Failed", new ContainerStateBuilder().withNewTerminated().withReason("Error").withExitCode(1)
                .withMessage("Traceback (most recent call last):\n  ...\ngale: cannot connect to Gale at 10.1.2.3:7070\n").endTerminated()).build();
        var killed = container("Failed", new ContainerStateBuilder().withNewTerminated().withReason("Error").withExitCode(137)
                .endTerminated()).build();

        assertThat(ended(status).message()).isEqualTo("pod gale-hello-1-1a2b: instance exited with code 1 (it said: gale: cannot "
                + "connect to Gale at 10.1.2.3:7070)");
        assertThat(ended(killed).message()).isEqualTo("pod gale-hello-1-1a2b: instance was killed by signal 9");
        assertThat(ended(killed).kind()).isEqualTo(InstanceFailure.Kind.CRASHED);
    }

    @Test
    void anEvictedPodEndsWithTheClustersReason() {
        var status = new PodStatusBuilder().withPhase("Failed").withReason("Evicted")
                .withMessage("The node was low on resource: ephemeral-storage.").build();

        assertThat(ended(status).message()).isEqualTo("pod gale-hello-1-1a2b ended (Evicted: The node was low on resource: "
                + "ephemeral-storage.)");
    }
}
