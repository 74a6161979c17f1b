// Shared by the fuzz targets: a failed invariant stops with its message even in an
// optimised build (precondition's message is dropped under -O), so a finding says what broke.

@inline(never)
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError(message()) }
}
