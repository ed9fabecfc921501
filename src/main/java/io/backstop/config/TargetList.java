package io.backstop.config;

import java.util.AbstractList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The targets: those the configuration names, and those a {@code databases} family finds on its server
 * as the daemon runs ({@link #add}). Read like any list (each iteration sees one consistent moment);
 * only {@link #add} changes it, and it never removes: a database that disappears stays a target, so its
 * check raises the data-loss alarm.
 */
public final class TargetList extends AbstractList<Settings.Target> {
    private final CopyOnWriteArrayList<Settings.Target> targets;
    private final List<Consumer<Settings.Target>> listeners = new CopyOnWriteArrayList<>();

    public TargetList(List<Settings.Target> initial) {
        this.targets = new CopyOnWriteArrayList<>(initial);
    }

    @Override
    public Settings.Target get(int index) {
        return targets.get(index);
    }

    @Override
    public int size() {
        return targets.size();
    }

    /** Adds {@code target} unless one of its name is here; tells every listener. Returns whether it was added. */
    public synchronized boolean add(Settings.Target target) {
        if (targets.stream().anyMatch(t -> t.name().equals(target.name()))) {
            return false;
        }
        targets.add(target);
        listeners.forEach(l -> l.accept(target));
        return true;
    }

    /** {@code listener} hears of every target added from now on. */
    public void onAdd(Consumer<Settings.Target> listener) {
        listeners.add(listener);
    }
}
