package org.plw4j.cuda;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Finding and running external tools from tests. */
final class Tools {
    private Tools() {
    }

    /** @return whether an executable of that name (or path) exists */
    static boolean onPath(String name) {
        if (name.contains("/")) {
            return Files.isExecutable(Paths.get(name));
        }
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Paths.get(dir, name))) {
                return true;
            }
        }
        return false;
    }

    /** The exit status and output of a finished process. */
    static final class Run {
        final int status;
        final String output;

        Run(int status, String output) {
            this.status = status;
            this.output = output;
        }
    }

    /**
     * Runs a command, stdout and stderr together.
     *
     * @param dir working directory, or null
     * @param env extra environment entries "K=V", or empty
     * @param cmd the command
     * @return status and output
     */
    static Run run(Path dir, List<String> env, List<String> cmd) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (dir != null) {
            pb.directory(dir.toFile());
        }
        for (String e : env) {
            int k = e.indexOf('=');
            pb.environment().put(e.substring(0, k), e.substring(k + 1));
        }
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(600, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return new Run(-1, out + "\n(timed out)");
        }
        return new Run(p.exitValue(), out);
    }
}
