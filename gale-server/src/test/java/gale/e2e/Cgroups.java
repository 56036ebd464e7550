package gale.e2e;

import gale.runtime.Isolation;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads what Gale wrote into a running instance's cgroup (v2: /sys/fs/cgroup/gale/NODE/ID, v1: one folder per controller). */
final class Cgroups {

    private static final Path ROOT = Path.of("/sys/fs/cgroup");

    private Cgroups() {
    }

    /** cpu.weight (v2) or cpu.shares (v1) of the instance. */
    static long cpuShare(Isolation isolation, String instance) throws IOException {
        return isolation.cgroupMode() == Isolation.CgroupMode.V2
                ? read(find(ROOT.resolve("gale"), instance).resolve("cpu.weight"))
                : read(find(ROOT.resolve("cpu/gale"), instance).resolve("cpu.shares"));
    }

    /** memory.max (v2) or memory.limit_in_bytes (v1) of the instance, in bytes. */
    static long memoryLimit(Isolation isolation, String instance) throws IOException {
        return isolation.cgroupMode() == Isolation.CgroupMode.V2
                ? read(find(ROOT.resolve("gale"), instance).resolve("memory.max"))
                : read(find(ROOT.resolve("memory/gale"), instance).resolve("memory.limit_in_bytes"));
    }

    /** The instance's cgroup under the server's own parent (gale/NODE/ID). */
    private static Path find(Path gale, String instance) throws IOException {
        try (var nodes = Files.list(gale)) {
            return nodes.map(node -> node.resolve(instance)).filter(Files::isDirectory).findFirst()
                    .orElseThrow(() -> new IOException("no cgroup of instance " + instance + " under " + gale));
        }
    }

    private static long read(Path file) throws IOException {
        return Long.parseLong(Files.readString(file).strip());
    }
}
