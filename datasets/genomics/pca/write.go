package pca

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"enclave/datasets/genomics/plink"
)

// WriteEigenval writes one eigenvalue per line, as plink2's .eigenval.
func WriteEigenval(w io.Writer, r *Result) error {
	bw := bufio.NewWriter(w)
	for _, v := range r.Eigenvalues {
		bw.Write(plink.AppendG(nil, v))
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// WriteEigenvec writes plink2's .eigenvec: a header "#FID IID PC1 ..." and
// one tab-separated line of scores per sample.
func WriteEigenvec(w io.Writer, samples []plink.Sample, r *Result) error {
	if len(r.Vectors) > 0 && len(r.Vectors[0]) != len(samples) {
		return fmt.Errorf("%d samples for eigenvectors of length %d", len(samples), len(r.Vectors[0]))
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString("#FID\tIID")
	for k := range r.Vectors {
		fmt.Fprintf(bw, "\tPC%d", k+1)
	}
	bw.WriteByte('\n')
	var line []byte
	for i, s := range samples {
		line = append(line[:0], s.FID...)
		line = append(line, '\t')
		line = append(line, s.IID...)
		for _, vec := range r.Vectors {
			line = append(line, '\t')
			line = plink.AppendG(line, vec[i])
		}
		line = append(line, '\n')
		bw.Write(line)
	}
	return bw.Flush()
}

// WriteFiles writes PREFIX.eigenval and PREFIX.eigenvec.
func WriteFiles(prefix string, samples []plink.Sample, r *Result) error {
	for _, f := range []struct {
		path  string
		write func(io.Writer) error
	}{
		{prefix + ".eigenval", func(w io.Writer) error { return WriteEigenval(w, r) }},
		{prefix + ".eigenvec", func(w io.Writer) error { return WriteEigenvec(w, samples, r) }},
	} {
		out, err := os.Create(f.path)
		if err != nil {
			return err
		}
		if err := f.write(out); err != nil {
			out.Close()
			return fmt.Errorf("%s: %w", f.path, err)
		}
		if err := out.Close(); err != nil {
			return err
		}
	}
	return nil
}
