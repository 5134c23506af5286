package org.plw4j.kernel;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * The scheduling of {@link FusedCpuKernel}: a call's work units are taken dynamically from an atomic
 * counter by up to {@code workers} threads, the caller plus tasks of a shared daemon
 * {@link ForkJoinPool} per parallelism. Which thread runs a unit never changes its outputs (each unit
 * writes only its own positions), so results do not depend on the thread count.
 */
final class WorkerPool {
    private static final ConcurrentHashMap<Integer, ForkJoinPool> POOLS = new ConcurrentHashMap<>();

    private WorkerPool() {
    }

    /**
     * Runs units {@code 0 .. units-1}, each once, and returns when all are done. The first failure is
     * rethrown after every thread has stopped, later ones attached as suppressed.
     *
     * @param parallelism the kernel's parallelism (selects the shared pool)
     * @param workers threads to use, the caller included, at most {@code parallelism}
     * @param units the number of work units
     * @param newWorker makes one thread's worker
     */
    static void run(int parallelism, int workers, int units, Supplier<KernelWorker> newWorker) {
        AtomicInteger next = new AtomicInteger();
        Runnable body = () -> {
            KernelWorker w = newWorker.get();
            for (int u = next.getAndIncrement(); u < units; u = next.getAndIncrement()) {
                w.unit(u);
            }
        };
        if (workers <= 1) {
            body.run();
            return;
        }
        ForkJoinPool pool = POOLS.computeIfAbsent(parallelism, WorkerPool::newPool);
        ForkJoinTask<?>[] others = new ForkJoinTask<?>[workers - 1];
        for (int w = 0; w < others.length; w++) {
            others[w] = pool.submit(body);
        }
        Throwable failure = null;
        try {
            body.run();
        } catch (RuntimeException | Error e) {
            failure = e;
        }
        for (ForkJoinTask<?> f : others) {
            try {
                f.join();
            } catch (RuntimeException | Error e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure instanceof RuntimeException e) {
            throw e;
        }
        if (failure != null) {
            throw (Error) failure;
        }
    }

    private static ForkJoinPool newPool(int parallelism) {
        AtomicInteger count = new AtomicInteger();
        return new ForkJoinPool(Math.max(1, parallelism - 1), pool -> {
            ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
            t.setName("plw4j-fused-cpu-" + parallelism + "-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        }, null, false);
    }
}
