// Package bench measures how close the run stage comes to the model
// server's own work (probe bench): against a real Ollama server that holds
// one model at a time, as on a laptop, it runs the same requests through
// the probe and through a naive client that sends them one by one in
// data-set order, alternating models, and sets both beside the floor that
// the server's own reported durations allow. It is a tool for developers;
// no experiment's numbers come from it.
package bench
