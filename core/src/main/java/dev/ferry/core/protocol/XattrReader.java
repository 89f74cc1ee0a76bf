package dev.ferry.core.protocol;

import java.util.Arrays;

/**
 * Walks the xattr section of a FILE descriptor, copied out by {@link DescriptorFlyweight#xattrBytes()} (layout in
 * {@link DescriptorFlyweight}): {@code count} times {@code uint8 n, n bytes name, int32 v (LE), v bytes value}. The
 * section must already have passed {@link DescriptorFlyweight#validate()}, or have been built with
 * {@link DescriptorFlyweight#appendXattr}. Not thread-safe; one per walk.
 */
public final class XattrReader
{
    private final byte[] section;
    private int remaining;
    private int at;
    private int nameOffset;
    private int nameLength;
    private int valueOffset;
    private int valueLength;

    public XattrReader(final byte[] section, final int count)
    {
        this.section = section;
        this.remaining = count;
    }

    /**
     * @return false when every xattr has been visited.
     */
    public boolean next()
    {
        if (remaining == 0)
        {
            return false;
        }
        remaining--;
        nameLength = section[at] & 0xFF;
        nameOffset = at + 1;
        final int v = nameOffset + nameLength;
        valueLength = (section[v] & 0xFF) | (section[v + 1] & 0xFF) << 8 | (section[v + 2] & 0xFF) << 16 |
            (section[v + 3] & 0xFF) << 24;
        valueOffset = v + 4;
        at = valueOffset + valueLength;
        return true;
    }

    public byte[] name()
    {
        return Arrays.copyOfRange(section, nameOffset, nameOffset + nameLength);
    }

    public int valueLength()
    {
        return valueLength;
    }

    public byte[] value()
    {
        return Arrays.copyOfRange(section, valueOffset, valueOffset + valueLength);
    }
}
