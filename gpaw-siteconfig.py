# GPAW build configuration for `make install` (read by GPAW's setup.py,
# which executes this file; it is given through GPAW_CONFIG).
#
# GPAW the way clusters run it: MPI, FFTW and ScaLAPACK, from Debian's
# libopenmpi-dev, libfftw3-dev and libscalapack-openmpi-dev. The MPI
# compiler wrapper (mpic++) is found on PATH.
#
# On a cluster, load its MPI/BLAS modules first and point the build at
# them with the environment variables below (all optional):
#   ASR_GPAW_MPICXX     the MPI C++ compiler wrapper (default mpic++)
#   ASR_GPAW_SCALAPACK  the ScaLAPACK library name (default scalapack-openmpi)
#   ASR_GPAW_BLAS       BLAS/LAPACK library names, space-separated
#                       (default: blas; e.g. "openblas" or
#                       "mkl_rt" or "flexiblas")
#   ASR_GPAW_LIBDIRS    extra library folders, space-separated (also rpath)
#   ASR_GPAW_INCDIRS    extra header folders, space-separated
import os as _os

mpi = True
compiler = _os.environ.get("ASR_GPAW_MPICXX", "mpic++")

fftw = True
scalapack = True

# A siteconfig replaces GPAW's default of linking `blas`, so it is listed
# here; libxc ("xc") is already in GPAW's default `libraries`.
libraries += ["fftw3"]  # noqa: F821 (defined by GPAW's setup.py)
libraries += [_os.environ.get("ASR_GPAW_SCALAPACK", "scalapack-openmpi")]  # noqa: F821
libraries += _os.environ.get("ASR_GPAW_BLAS", "blas").split()  # noqa: F821

_dirs = _os.environ.get("ASR_GPAW_LIBDIRS", "").split()
library_dirs += _dirs  # noqa: F821
runtime_library_dirs += _dirs  # noqa: F821
include_dirs += _os.environ.get("ASR_GPAW_INCDIRS", "").split()  # noqa: F821
