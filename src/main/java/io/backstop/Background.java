package io.backstop;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Work beside the work: every thread Backstop starts is started here, named (a thread dump says what it
 * does) and a daemon thread (it never keeps a finished command's JVM alive).
 */
public final class Background {
    private Background() {
    }

    /** Runs {@code work} on a thread of its own; its result, or what it threw, as a future. */
    public static <T> CompletableFuture<T> supply(String name, Callable<T> work) {
        CompletableFuture<T> future = new CompletableFuture<>();
        start(name, () -> {
            try {
                future.complete(work.call());
            } catch (Throwable e) {
                future.completeExceptionally(e);
            }
        });
        return future;
    }

    /** Runs {@code work} on a thread of its own, started before this returns. */
    public static Thread start(String name, Runnable work) {
        Thread t = new Thread(work, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Threads for an executor: daemon threads named {@code name}, numbered when there are several. */
    public static ThreadFactory threads(String name) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            int i = n.incrementAndGet();
            Thread t = new Thread(r, i == 1 ? name : name + "-" + i);
            t.setDaemon(true);
            return t;
        };
    }

    /** As {@link #join}, for work that reads or writes files: an IOException it threw is thrown as it was. */
    public static <T> T joinIo(CompletableFuture<T> future) throws java.io.IOException {
        try {
            return future.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof java.io.IOException io) {
                throw io;
            }
            throw e.getCause() instanceof RuntimeException re ? re : e;
        }
    }

    /** The future's result; what it threw, as it was thrown (a RuntimeException is not wrapped). */
    public static <T> T join(CompletableFuture<T> future) {
        try {
            return future.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw e;
        }
    }
}
