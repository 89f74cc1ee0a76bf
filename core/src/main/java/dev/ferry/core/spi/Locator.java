package dev.ferry.core.spi;

/**
 * Identifies a clone between donor and recipient, as the clone plugin's locator does. Immutable value.
 * <ul>
 *   <li>A <em>version locator</em> ({@link #KIND_VERSION}) carries no snapshot, only the protocol range the
 *   recipient supports.</li>
 *   <li>A <em>real locator</em> ({@link #KIND_REAL}) names the snapshot the donor took and the negotiated
 *   version.</li>
 *   <li>A <em>restart locator</em> ({@link #KIND_RESTART}) is a real locator plus the {@link AppliedState}.</li>
 * </ul>
 * Only a restart locator carries an applied state, and it always does: one made without it carries an empty state
 * (nothing applied), so a locator equals what the wire codec decodes from its encoding.
 */
public final class Locator
{
    public static final int KIND_VERSION = 1;
    public static final int KIND_REAL = 2;
    public static final int KIND_RESTART = 3;

    /** The only storage engine so far: a directory tree. */
    public static final int ENGINE_FILE_TREE = 1;

    private final int engineId;
    private final int kind;
    private final int protocolMin;
    private final int protocolMax;
    private final long snapshotId;
    private final int taskIndex;
    private final int stage;
    private final AppliedState applied;

    public Locator(
        final int engineId,
        final int kind,
        final int protocolMin,
        final int protocolMax,
        final long snapshotId,
        final int taskIndex,
        final int stage,
        final AppliedState applied)
    {
        this.engineId = engineId;
        this.kind = kind;
        this.protocolMin = protocolMin;
        this.protocolMax = protocolMax;
        this.snapshotId = snapshotId;
        this.taskIndex = taskIndex;
        this.stage = stage;
        this.applied = kind != KIND_RESTART ? null : applied != null ? applied : new AppliedState(0);
    }

    public static Locator version(final int engineId, final int protocolMin, final int protocolMax)
    {
        return new Locator(engineId, KIND_VERSION, protocolMin, protocolMax, 0, 0, Stage.NONE, null);
    }

    public static Locator real(final int engineId, final int protocol, final long snapshotId, final int task, final int stage)
    {
        return new Locator(engineId, KIND_REAL, protocol, protocol, snapshotId, task, stage, null);
    }

    public Locator withTask(final int task)
    {
        return new Locator(engineId, kind, protocolMin, protocolMax, snapshotId, task, stage, applied);
    }

    public Locator withStage(final int newStage)
    {
        return new Locator(engineId, kind, protocolMin, protocolMax, snapshotId, taskIndex, newStage, applied);
    }

    /**
     * @param state what the recipient applied; null means nothing.
     */
    public Locator restart(final AppliedState state)
    {
        return new Locator(engineId, KIND_RESTART, protocolMin, protocolMax, snapshotId, taskIndex, stage, state);
    }

    public int engineId()
    {
        return engineId;
    }

    public int kind()
    {
        return kind;
    }

    public int protocolMin()
    {
        return protocolMin;
    }

    public int protocolMax()
    {
        return protocolMax;
    }

    /**
     * @return the negotiated protocol of a real or restart locator.
     */
    public int protocol()
    {
        return protocolMax;
    }

    public long snapshotId()
    {
        return snapshotId;
    }

    public int taskIndex()
    {
        return taskIndex;
    }

    public int stage()
    {
        return stage;
    }

    /**
     * @return the applied state of a restart locator (never null), or null for the other kinds.
     */
    public AppliedState applied()
    {
        return applied;
    }

    @Override
    public boolean equals(final Object o)
    {
        if (!(o instanceof Locator))
        {
            return false;
        }
        final Locator l = (Locator)o;
        return engineId == l.engineId && kind == l.kind && protocolMin == l.protocolMin &&
            protocolMax == l.protocolMax && snapshotId == l.snapshotId && taskIndex == l.taskIndex &&
            stage == l.stage && (applied == null ? l.applied == null : applied.equals(l.applied));
    }

    @Override
    public int hashCode()
    {
        return Long.hashCode(snapshotId) * 31 + taskIndex;
    }

    @Override
    public String toString()
    {
        return "Locator{engine=" + engineId + ", kind=" + kind + ", protocol=" + protocolMin + ".." + protocolMax +
            ", snapshot=" + Long.toHexString(snapshotId) + ", task=" + taskIndex + ", stage=" + Stage.name(stage) +
            (applied != null ? ", " + applied : "") + "}";
    }
}
