package vcf

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// parallelBGZF decompresses a BGZF stream read sequentially, inflating up
// to `workers` blocks at a time (BGZF blocks are independent deflate
// streams), and delivers the data in order through Read. Whole-file scans
// use it; seeks for region queries go through biogo's bgzf.Reader.
type parallelBGZF struct {
	src     *bufio.Reader
	name    string
	jobs    chan *bgzfJob
	results chan *bgzfJob
	cur     *bgzfJob
	off     int
	err     error
	done    chan struct{}
	once    sync.Once
	pool    sync.Pool
}

type bgzfJob struct {
	comp  []byte
	data  []byte
	isize uint32
	crc   uint32
	err   error
	ready chan struct{}
}

// batch is how many blocks are read ahead per worker.
const bgzfAhead = 16

func newParallelBGZF(r io.Reader, name string, workers int) *parallelBGZF {
	workers = max(workers, 1)
	p := &parallelBGZF{
		src:     bufio.NewReaderSize(r, 1<<20),
		name:    name,
		jobs:    make(chan *bgzfJob, workers*bgzfAhead),
		results: make(chan *bgzfJob, workers*bgzfAhead),
		done:    make(chan struct{}),
	}
	for w := 0; w < workers; w++ {
		go p.inflater()
	}
	go p.reader()
	return p
}

// reader splits the compressed stream into blocks, in order.
func (p *parallelBGZF) reader() {
	defer close(p.jobs)
	defer close(p.results)
	var block int64
	for {
		var hdr [18]byte
		if _, err := io.ReadFull(p.src, hdr[:]); err != nil {
			if err == io.EOF {
				return
			}
			p.send(&bgzfJob{err: fmt.Errorf("%s: BGZF block %d: truncated header: %w", p.name, block, err), ready: closed()})
			return
		}
		if hdr[0] != 0x1f || hdr[1] != 0x8b || hdr[3]&4 == 0 || hdr[12] != 'B' || hdr[13] != 'C' {
			p.send(&bgzfJob{err: fmt.Errorf("%s: BGZF block %d: not a BGZF block header", p.name, block), ready: closed()})
			return
		}
		size := int(binary.LittleEndian.Uint16(hdr[16:])) + 1
		rest := make([]byte, size-18)
		if _, err := io.ReadFull(p.src, rest); err != nil {
			p.send(&bgzfJob{err: fmt.Errorf("%s: BGZF block %d: truncated: %w", p.name, block, err), ready: closed()})
			return
		}
		xlen := int(binary.LittleEndian.Uint16(hdr[10:]))
		// The extra field may be longer than the BC subfield.
		start := xlen - 6
		if start < 0 || start > len(rest)-8 {
			p.send(&bgzfJob{err: fmt.Errorf("%s: BGZF block %d: bad extra field", p.name, block), ready: closed()})
			return
		}
		j := &bgzfJob{
			comp:  rest[start : len(rest)-8],
			crc:   binary.LittleEndian.Uint32(rest[len(rest)-8:]),
			isize: binary.LittleEndian.Uint32(rest[len(rest)-4:]),
			ready: make(chan struct{}),
		}
		if !p.send(j) {
			return
		}
		select {
		case p.jobs <- j:
		case <-p.done:
			return
		}
		block++
	}
}

func closed() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

func (p *parallelBGZF) send(j *bgzfJob) bool {
	select {
	case p.results <- j:
		return true
	case <-p.done:
		return false
	}
}

func (p *parallelBGZF) inflater() {
	var fr io.ReadCloser
	for j := range p.jobs {
		if fr == nil {
			fr = flate.NewReader(bytes.NewReader(j.comp))
		} else {
			fr.(flate.Resetter).Reset(bytes.NewReader(j.comp), nil)
		}
		buf, _ := p.pool.Get().([]byte)
		if cap(buf) < int(j.isize) {
			buf = make([]byte, j.isize, max(int(j.isize), 1<<16))
		}
		buf = buf[:j.isize]
		_, err := io.ReadFull(fr, buf)
		switch {
		case err != nil:
			j.err = fmt.Errorf("%s: BGZF block: %w", p.name, err)
		case crc32.ChecksumIEEE(buf) != j.crc:
			j.err = fmt.Errorf("%s: BGZF block: CRC mismatch (corrupt file)", p.name)
		}
		j.data = buf
		close(j.ready)
	}
}

// Read implements io.Reader over the inflated blocks.
func (p *parallelBGZF) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	for p.cur == nil || p.off == len(p.cur.data) {
		if p.cur != nil && p.cur.data != nil {
			p.pool.Put(p.cur.data[:0])
		}
		j, ok := <-p.results
		if !ok {
			p.err = io.EOF
			return 0, io.EOF
		}
		<-j.ready
		if j.err != nil {
			p.err = j.err
			return 0, j.err
		}
		p.cur, p.off = j, 0
	}
	n := copy(b, p.cur.data[p.off:])
	p.off += n
	return n, nil
}

// Close stops the goroutines.
func (p *parallelBGZF) Close() error {
	p.once.Do(func() { close(p.done) })
	// Drain so that the reader goroutine can exit.
	go func() {
		for range p.results {
		}
	}()
	return nil
}
