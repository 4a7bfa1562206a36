# Made by `qat table`; redraw with: gnuplot plots.gp (from this folder)
set terminal pngcairo size 900,600 noenhanced
set grid
set output 'dice_vs_bits.png'
set title 'main_synthetic_em_quick: val Dice (last epoch) against weight bits'
set xlabel 'weight bits (log scale; 32 = float)'
set ylabel 'Dice %'
set logscale x 2
set offsets graph 0.05, graph 0.05, 0, 0
set yrange [0:100]
set key bottom right
plot 'dice_vs_bits.dat' index 0 using 1:2:3 with yerrorlines lw 2 title 'ours relu', '' index 0 using 1:4 with linespoints dt 2 title 'paper relu', \
     'dice_vs_bits.dat' index 1 using 1:2:3 with yerrorlines lw 2 title 'ours tanh', '' index 1 using 1:4 with linespoints dt 2 title 'paper tanh'
unset logscale x
set offsets 0, 0, 0, 0
set autoscale y
set output 'curves_relu.png'
set title 'main_synthetic_em_quick relu: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_relu.dat' index 0 using 1:2 with lines lw 2 title "fp", \
     'curves_relu.dat' index 1 using 1:2 with lines lw 2 title "q8_8-q8_8", \
     'curves_relu.dat' index 2 using 1:2 with lines lw 2 title "q8_0-q0_8", \
     'curves_relu.dat' index 3 using 1:2 with lines lw 2 title "q6_0-q0_4", \
     'curves_relu.dat' index 4 using 1:2 with lines lw 2 title "q4_0-q0_2", \
     'curves_relu.dat' index 5 using 1:2 with lines lw 2 title "bnn"
set output 'curves_tanh.png'
set title 'main_synthetic_em_quick tanh: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_tanh.dat' index 0 using 1:2 with lines lw 2 title "fp", \
     'curves_tanh.dat' index 1 using 1:2 with lines lw 2 title "q8_8-q8_8", \
     'curves_tanh.dat' index 2 using 1:2 with lines lw 2 title "q8_0-q0_8", \
     'curves_tanh.dat' index 3 using 1:2 with lines lw 2 title "q6_0-q0_4", \
     'curves_tanh.dat' index 4 using 1:2 with lines lw 2 title "q4_0-q0_2", \
     'curves_tanh.dat' index 5 using 1:2 with lines lw 2 title "ternary"
