package dev.ferry.engine.recipient;

import org.junit.jupiter.api.Test;

import static dev.ferry.core.protocol.DescriptorFlyweight.FILE_DIRECTORY;
import static dev.ferry.core.protocol.DescriptorFlyweight.FILE_REGULAR;
import static dev.ferry.core.protocol.DescriptorFlyweight.FILE_SYMLINK;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link SetidPolicy}: every combination of who runs the clone, whether owners are cloned and {@code --no-setuid}.
 */
class SetidPolicyTest
{
    @Test
    void asRootTheBitsStayOnlyForAFileWhoseOwnerIsCloned()
    {
        assertEquals(0755, SetidPolicy.mode(FILE_REGULAR, 04755, false, true, false));
        assertEquals(0711, SetidPolicy.mode(FILE_REGULAR, 02711, false, true, false));
        assertEquals(01755, SetidPolicy.mode(FILE_REGULAR, 07755, false, true, false), "sticky stays");
        assertEquals(04755, SetidPolicy.mode(FILE_REGULAR, 04755, false, true, true));
    }

    @Test
    void asAnotherUserTheBitsStayUnlessNoSetuid()
    {
        assertEquals(04755, SetidPolicy.mode(FILE_REGULAR, 04755, false, false, false));
        assertEquals(06750, SetidPolicy.mode(FILE_REGULAR, 06750, false, false, false));
        assertEquals(0750, SetidPolicy.mode(FILE_REGULAR, 06750, true, false, false));
        assertEquals(0750, SetidPolicy.mode(FILE_REGULAR, 06750, true, true, true), "--no-setuid strips always");
    }

    @Test
    void directoriesAndSymlinksKeepTheirBits()
    {
        assertEquals(02750, SetidPolicy.mode(FILE_DIRECTORY, 02750, true, true, false));
        assertEquals(0777, SetidPolicy.mode(FILE_SYMLINK, 0777, true, true, false));
    }
}
