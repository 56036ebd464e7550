package gale.e2e;

import gale.runtime.Isolation;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads what Gale wrote into a running instance's cgroup (v2: /sys/fs/cgroup/gale/ID, v1: one folder per controller). */
final class Cgroups {

    private static final Path ROOT = Path.of("/sys/fs/cgroup");

    private Cgroups() {
    }

    /** cpu.weight (v2) or cpu.shares (v1) of the instance. */
    static long cpuShare(Isolation isolation, String instance) throws IOException {
        return isolation.cgroupMode() == Isolation.CgroupMode.V2
                ? read(ROOT.resolve("gale").resolve(instance).resolve("cpu.weight"))
                : read(ROOT.resolve("cpu/gale").resolve(instance).resolve("cpu.shares"));
    }

    /** memory.max (v2) or memory.limit_in_bytes (v1) of the instance, in bytes. */
    static long memoryLimit(Isolation isolation, String instance) throws IOException {
        return isolation.cgroupMode() == Isolation.CgroupMode.V2
                ? read(ROOT.resolve("gale").resolve(instance).resolve("memory.max"))
                : read(ROOT.resolve("memory/gale").resolve(instance).resolve("memory.limit_in_bytes"));
    }

    private static long read(Path file) throws IOException {
        return Long.parseLong(Files.readString(file).strip());
    }
}
