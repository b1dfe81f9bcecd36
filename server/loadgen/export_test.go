package loadgen

var ForDevice = forDevice
