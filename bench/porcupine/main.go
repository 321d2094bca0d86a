// Porcupine's checker on Jepsen etcd register logs, for bench/checker-vs-porcupine.sh.
//
//	porcupine-etcd FILE...
//
// Prints "FILE: linearizable" or "FILE: not linearizable" per file (the format of
// `quorate check` with several files), then "total-ms N" (reading, parsing and checking every
// file, in this process). The model and the reading of the log follow Porcupine's own etcd test
// (porcupine_test.go: etcdModel, parseJepsenLog): nil is -1000000, a read that fails with
// :timed-out and an invocation never completed return "unknown", which any state accepts.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/anishathalye/porcupine"
)

const nilValue = -1000000

type input struct {
	op   uint8 // 0 read, 1 write, 2 cas
	arg1 int   // write: the value; cas: from
	arg2 int   // cas: to
}

type output struct {
	ok      bool // cas succeeded
	exists  bool // read saw a value
	value   int  // read: the value
	unknown bool // no definite completion
}

var model = porcupine.Model{
	Init: func() interface{} { return nilValue },
	Step: func(state, in, out interface{}) (bool, interface{}) {
		st := state.(int)
		i := in.(input)
		o := out.(output)
		switch i.op {
		case 0:
			return (!o.exists && st == nilValue) || (o.exists && st == o.value) || o.unknown, state
		case 1:
			return true, i.arg1
		default:
			ok := (i.arg1 == st && o.ok) || (i.arg1 != st && !o.ok) || o.unknown
			next := st
			if i.arg1 == st {
				next = i.arg2
			}
			return ok, next
		}
	},
}

var (
	prefix      = `^INFO\s+jepsen\.util\s+-\s+(\d+)\s+`
	invokeRead  = regexp.MustCompile(prefix + `:invoke\s+:read\s+nil$`)
	invokeWrite = regexp.MustCompile(prefix + `:invoke\s+:write\s+(\d+)$`)
	invokeCas   = regexp.MustCompile(prefix + `:invoke\s+:cas\s+\[(\d+)\s+(\d+)\]$`)
	okRead      = regexp.MustCompile(prefix + `:ok\s+:read\s+(nil|\d+)$`)
	okWrite     = regexp.MustCompile(prefix + `:ok\s+:write\s+(\d+)$`)
	doneCas     = regexp.MustCompile(prefix + `:(ok|fail)\s+:cas\s+\[(\d+)\s+(\d+)\]$`)
	timedOut    = regexp.MustCompile(prefix + `:fail\s+:read\s+:timed-out$`)
)

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

func parse(path string) ([]porcupine.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var events []porcupine.Event
	open := map[int]int{} // process -> id of its open operation
	id := 0
	call := func(proc int, in input) {
		events = append(events, porcupine.Event{ClientId: proc, Kind: porcupine.CallEvent, Value: in, Id: id})
		open[proc] = id
		id++
	}
	ret := func(proc int, out output) {
		events = append(events, porcupine.Event{ClientId: proc, Kind: porcupine.ReturnEvent, Value: out, Id: open[proc]})
		delete(open, proc)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := invokeRead.FindStringSubmatch(line); m != nil {
			call(atoi(m[1]), input{op: 0})
		} else if m := invokeWrite.FindStringSubmatch(line); m != nil {
			call(atoi(m[1]), input{op: 1, arg1: atoi(m[2])})
		} else if m := invokeCas.FindStringSubmatch(line); m != nil {
			call(atoi(m[1]), input{op: 2, arg1: atoi(m[2]), arg2: atoi(m[3])})
		} else if m := okRead.FindStringSubmatch(line); m != nil {
			if m[2] == "nil" {
				ret(atoi(m[1]), output{})
			} else {
				ret(atoi(m[1]), output{exists: true, value: atoi(m[2])})
			}
		} else if m := okWrite.FindStringSubmatch(line); m != nil {
			ret(atoi(m[1]), output{})
		} else if m := doneCas.FindStringSubmatch(line); m != nil {
			ret(atoi(m[1]), output{ok: m[2] == "ok"})
		} else if m := timedOut.FindStringSubmatch(line); m != nil {
			ret(atoi(m[1]), output{unknown: true})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for proc, id := range open {
		events = append(events, porcupine.Event{ClientId: proc, Kind: porcupine.ReturnEvent, Value: output{unknown: true}, Id: id})
	}
	return events, nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: porcupine-etcd FILE...")
		os.Exit(3)
	}
	start := time.Now()
	for _, path := range os.Args[1:] {
		events, err := parse(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		verdict := "not linearizable"
		if porcupine.CheckEvents(model, events) {
			verdict = "linearizable"
		}
		fmt.Printf("%s: %s\n", path, verdict)
	}
	fmt.Printf("total-ms %.1f\n", float64(time.Since(start).Microseconds())/1000)
}
