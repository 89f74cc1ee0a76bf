package dev.ferry.core.spi;

/**
 * Why a clone task begins, as in the clone handlerton.
 * <ul>
 *   <li>{@link #VERSION}: recipient only; produce a version locator with what this side supports.</li>
 *   <li>{@link #START}: the first (master) task; the donor negotiates and takes a snapshot.</li>
 *   <li>{@link #ATTACH}: an extra task joins the clone the master started.</li>
 *   <li>{@link #RESTART}: resume a clone after a network failure from a restart locator.</li>
 * </ul>
 */
public enum CloneMode
{
    VERSION, START, ATTACH, RESTART
}
